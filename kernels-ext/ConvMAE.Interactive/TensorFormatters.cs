using System.Globalization;
using ConvMAE.Data;
using Microsoft.DotNet.Interactive.Formatting;
using SixLabors.ImageSharp;
using static TorchSharp.torch;

namespace ConvMAE.Interactive;

/// <summary>
/// How a TorchSharp tensor shows in a notebook, decided in this order:
/// small tensors (at most <see cref="MaxTableElements"/> elements, up to 2-D) as a table of values;
/// float [3,H,W] / [1,H,W] as an image; other 2-D tensors as a heatmap; anything else as its shape, dtype and device
/// followed by TorchSharp's own rendering. Every form names shape, dtype and device. ImageSharp images show as images.
/// </summary>
public static class TensorFormatters
{
    /// <summary>Images smaller than this (longer side, pixels) are enlarged on screen with crisp pixels.</summary>
    const int MinDisplaySide = 160;

    /// <summary>Largest tensor shown as a table of its values.</summary>
    public const int MaxTableElements = 64;

    public static void Register()
    {
        Formatter.Register<Tensor>((t, w) => w.Write(Html(t)), HtmlFormatter.MimeType);
        Formatter.Register<Image>((img, w) => w.Write(ImageSharpHtml(img)), HtmlFormatter.MimeType);
    }

    /// <summary>Which form <see cref="Html(Tensor)"/> uses.</summary>
    public enum Form { Table, Image, Heatmap, Summary }

    public static Form FormOf(Tensor t) =>
        t.dim() <= 2 && t.numel() <= MaxTableElements ? Form.Table
        : t.dim() == 3 && ImageTensors.IsImageLike(t) ? Form.Image
        : t.dim() == 2 && t.dtype != ScalarType.Bool ? Form.Heatmap
        : Form.Summary;

    public static string Html(Tensor t) => FormOf(t) switch
    {
        Form.Table => TableHtml(t),
        Form.Image => ImageHtml(t),
        Form.Heatmap => Heatmap.Html(t),
        _ => SummaryHtml(t),
    };

    public static string ImageHtml(Tensor t, string? caption = null)
    {
        var png = Convert.ToBase64String(ImageTensors.ToPng(t));
        return Figure(png, t.shape[^1], t.shape[^2], caption ?? Describe(t));
    }

    public static string ImageSharpHtml(Image img, string? caption = null) =>
        Figure(Heatmap.Png(img), img.Width, img.Height, caption ?? $"Image {img.Width}×{img.Height} ({img.PixelType.BitsPerPixel} bits per pixel)");

    static string Figure(string pngBase64, long w, long h, string caption)
    {
        double scale = Math.Max(1, Math.Ceiling(MinDisplaySide / (double)Math.Max(h, w)));
        return $"<figure style=\"display:inline-block;margin:4px\"><img class=\"convmae-image\" " +
               $"width=\"{w * scale}\" height=\"{h * scale}\" style=\"image-rendering:pixelated\" " +
               $"src=\"data:image/png;base64,{pngBase64}\"/><figcaption style=\"font-size:small\">" +
               $"{RuntimeTable.Html(caption)}</figcaption></figure>";
    }

    /// <summary>A scalar, vector or small matrix as an HTML table with its shape, dtype and device above it.</summary>
    public static string TableHtml(Tensor t)
    {
        using var x = t.detach().cpu();
        var rows = x.dim() switch { 0 => 1L, 1 => 1L, _ => x.shape[0] };
        var cols = x.dim() switch { 0 => 1L, 1 => x.shape[0], _ => x.shape[1] };
        using var flat = x.reshape(-1);
        var sb = new System.Text.StringBuilder($"<div class=\"convmae-tensor-table\"><b>{RuntimeTable.Html(Describe(t))}</b>" +
                                               "<table style=\"font-family:monospace\">");
        for (long r = 0; r < rows; r++)
        {
            sb.Append("<tr>");
            for (long c = 0; c < cols; c++)
            {
                using var e = flat[r * cols + c];
                sb.Append("<td style=\"text-align:right\">").Append(RuntimeTable.Html(Element(e))).Append("</td>");
            }
            sb.Append("</tr>");
        }
        return sb.Append("</table></div>").ToString();
    }

    static string Element(Tensor e) => e.dtype switch
    {
        ScalarType.Bool => e.item<bool>() ? "true" : "false",
        _ when e.is_floating_point() => e.to(float64).item<double>().ToString("G6", CultureInfo.InvariantCulture),
        _ => e.to(int64).item<long>().ToString(CultureInfo.InvariantCulture),
    };

    static string SummaryHtml(Tensor t) =>
        $"<div class=\"convmae-tensor\"><b>{RuntimeTable.Html(Describe(t))}</b>" +
        $"<pre>{RuntimeTable.Html(t.numel() <= 10_000 ? t.ToString(TorchSharp.TensorStringStyle.Numpy) : "(too large to print)")}</pre></div>";

    public static string Describe(Tensor t) => $"Tensor [{string.Join(", ", t.shape)}] {t.dtype} on {t.device}";
}
