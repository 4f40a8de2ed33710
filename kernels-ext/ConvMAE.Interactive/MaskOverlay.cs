using ConvMAE.Data;
using Microsoft.DotNet.Interactive.Formatting;
using static TorchSharp.torch;

namespace ConvMAE.Interactive;

/// <summary>
/// A mask shown on its image: removed pixels (mask = 1, the official convention) are tinted red, kept ones shown as
/// they are. The mask may be per token ([L] with L a square, or [g,g]) or per pixel ([H,W], [1,H,W]); it is
/// enlarged by nearest neighbour to the image, so a stage-3 token mask covers 16×16-pixel blocks of a 224 image.
/// </summary>
public sealed record MaskOverlay(Tensor Image, Tensor Mask, string? Caption = null)
{
    /// <summary>How strongly removed pixels are tinted (0: not at all, 1: solid red).</summary>
    public const double Tint = 0.6;

    static MaskOverlay() => Formatter.Register<MaskOverlay>((m, w) => w.Write(m.Html()), HtmlFormatter.MimeType);

    /// <summary>The overlaid image [3,H,W] in [0,1].</summary>
    public Tensor Render()
    {
        if (!ImageTensors.IsImageLike(Image)) throw new ArgumentException($"MaskOverlay: image must be [3,H,W] or [H,W], got [{string.Join(",", Image.shape)}]");
        using var scope = NewDisposeScope();
        var img = ImageTensors.ToDisplayRgb(Image);                        // [3,H,W] in [0,1]
        long h = img.shape[1], w = img.shape[2];
        var m = PixelMask(Mask.detach().to(float32).cpu(), h, w);          // [1,H,W], 1 = removed
        var red = tensor(new float[] { 1f, 0f, 0f }).view(3, 1, 1);
        var shown = img * (1 - m * Tint) + red * (m * Tint);
        return shown.MoveToOuterDisposeScope();
    }

    static Tensor PixelMask(Tensor m, long h, long w)
    {
        if (m.dim() == 3 && m.shape[0] == 1) m = m[0];
        if (m.dim() == 1)
        {
            long g = (long)Math.Round(Math.Sqrt(m.shape[0]));
            if (g * g != m.shape[0]) throw new ArgumentException($"MaskOverlay: a token mask [L] needs a square L, got {m.shape[0]}");
            m = m.view(g, g);
        }
        if (m.dim() != 2) throw new ArgumentException($"MaskOverlay: mask must be [L], [g,g] or [H,W], got [{string.Join(",", m.shape)}]");
        if (h % m.shape[0] != 0 || w % m.shape[1] != 0)
            throw new ArgumentException($"MaskOverlay: mask [{m.shape[0]},{m.shape[1]}] does not tile an image of {h}×{w}");
        return m.repeat_interleave(h / m.shape[0], 0).repeat_interleave(w / m.shape[1], 1).unsqueeze(0);
    }

    /// <summary>Image i of <paramref name="images"/> [N,3,H,W] with mask i of <paramref name="masks"/> [N,...], side by side.</summary>
    public static Gallery Row(Tensor images, Tensor masks, IReadOnlyList<string>? captions = null, int count = int.MaxValue) =>
        new(Enumerable.Range(0, (int)Math.Min(count, images.shape[0])).Select(i => new MaskOverlay(images[i], masks[i]).Render()).ToList(),
            captions);

    public string Html()
    {
        using var shown = Render();
        return TensorFormatters.ImageHtml(shown, Caption ?? $"mask [{string.Join(",", Mask.shape)}] on image [{string.Join(",", Image.shape)}]");
    }
}
