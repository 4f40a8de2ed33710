using Microsoft.DotNet.Interactive.Formatting;
using static TorchSharp.torch;

namespace ConvMAE.Interactive;

/// <summary>Image tensors ([3,H,W] or [H,W]) side by side, each with an optional caption.</summary>
public sealed record Gallery(IReadOnlyList<Tensor> Images, IReadOnlyList<string>? Captions = null)
{
    static Gallery() => Formatter.Register<Gallery>((g, w) => w.Write(g.Html()), HtmlFormatter.MimeType);

    /// <summary>The first <paramref name="count"/> images of a batch [N,3,H,W].</summary>
    public static Gallery Of(Tensor batch, int count, IReadOnlyList<string>? captions = null) =>
        new(Enumerable.Range(0, (int)Math.Min(count, batch.shape[0])).Select(i => batch[i]).ToList(), captions);

    public string Html() =>
        "<div class=\"convmae-gallery\">" +
        string.Concat(Images.Select((t, i) => TensorFormatters.ImageHtml(t, Captions is { } c && i < c.Count ? c[i] : ""))) +
        "</div>";
}
