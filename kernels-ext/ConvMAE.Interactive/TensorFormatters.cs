using ConvMAE.Data;
using Microsoft.DotNet.Interactive.Formatting;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Interactive;

/// <summary>Formatters for TorchSharp tensors: image-like float tensors ([3,H,W], [1,H,W], [H,W]) show as an
/// image; every other tensor as its shape, dtype and device followed by TorchSharp's own rendering.</summary>
public static class TensorFormatters
{
    /// <summary>Images smaller than this (longer side, pixels) are enlarged on screen with crisp pixels.</summary>
    const int MinDisplaySide = 160;

    public static void Register() =>
        Formatter.Register<Tensor>((t, w) => w.Write(Html(t)), HtmlFormatter.MimeType);

    public static string Html(Tensor t) => ImageTensors.IsImageLike(t) ? ImageHtml(t) : SummaryHtml(t);

    public static string ImageHtml(Tensor t, string? caption = null)
    {
        var png = Convert.ToBase64String(ImageTensors.ToPng(t));
        long h = t.shape[^2], w = t.shape[^1];
        double scale = Math.Max(1, Math.Ceiling(MinDisplaySide / (double)Math.Max(h, w)));
        caption ??= Describe(t);
        return $"<figure style=\"display:inline-block;margin:4px\"><img class=\"convmae-image\" " +
               $"width=\"{w * scale}\" height=\"{h * scale}\" style=\"image-rendering:pixelated\" " +
               $"src=\"data:image/png;base64,{png}\"/><figcaption style=\"font-size:small\">" +
               $"{RuntimeTable.Html(caption)}</figcaption></figure>";
    }

    static string SummaryHtml(Tensor t) =>
        $"<div class=\"convmae-tensor\"><b>{RuntimeTable.Html(Describe(t))}</b>" +
        $"<pre>{RuntimeTable.Html(t.numel() <= 10_000 ? t.ToString(TorchSharp.TensorStringStyle.Numpy) : "(too large to print)")}</pre></div>";

    public static string Describe(Tensor t) => $"Tensor [{string.Join(", ", t.shape)}] {t.dtype} on {t.device}";
}
