using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace ConvMAE.Interactive;

/// <summary>
/// A 2-D tensor [H,W] drawn as a viridis heatmap (low = dark blue, high = yellow) with a colour bar labelled with
/// the tensor's minimum and maximum (over its finite values; NaN cells are grey). Plain PNG, so it renders in reports with no script at all.
/// </summary>
public static class Heatmap
{
    /// <summary>Eight samples of matplotlib's viridis, interpolated linearly between them.</summary>
    static readonly (byte R, byte G, byte B)[] Viridis =
    [
        (68, 1, 84), (70, 50, 127), (54, 92, 141), (39, 127, 142),
        (31, 161, 135), (74, 194, 109), (159, 218, 58), (253, 231, 37),
    ];

    /// <summary>Cells with no value (NaN, ±∞): mid grey, outside the colour scale.</summary>
    public static readonly Rgb24 Missing = new(160, 160, 160);

    /// <summary>Colour of a value already scaled to [0,1]; not-a-number gives <see cref="Missing"/>.</summary>
    public static Rgb24 Colour(double u)
    {
        if (!double.IsFinite(u)) return Missing;
        u = Math.Clamp(u, 0, 1);
        double pos = u * (Viridis.Length - 1);
        int i = Math.Min((int)pos, Viridis.Length - 2);
        double f = pos - i;
        var (a, b) = (Viridis[i], Viridis[i + 1]);
        static byte Mix(byte x, byte y, double t) => (byte)Math.Round(x + (y - x) * t);
        return new Rgb24(Mix(a.R, b.R, f), Mix(a.G, b.G, f), Mix(a.B, b.B, f));
    }

    /// <summary>The heatmap of <paramref name="t"/> [H,W] as an image, one pixel per element, and its value range.</summary>
    public static (Image<Rgb24> Image, double Min, double Max) Render(Tensor t)
    {
        if (t.dim() != 2) throw new ArgumentException($"heatmap: expected a 2-D tensor, got [{string.Join(",", t.shape)}]");
        using var x = t.detach().to(float64).cpu().contiguous();
        var v = x.data<double>().ToArray();
        double lo = v.Where(double.IsFinite).DefaultIfEmpty(0).Min(), hi = v.Where(double.IsFinite).DefaultIfEmpty(0).Max();
        double span = hi > lo ? hi - lo : 1;
        int h = (int)t.shape[0], w = (int)t.shape[1];
        var img = new Image<Rgb24>(w, h);
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
                img[c, r] = Colour((v[r * w + c] - lo) / span);
        return (img, lo, hi);
    }

    public static string Html(Tensor t, string? caption = null)
    {
        var (img, lo, hi) = Render(t);
        using (img)
        {
            long h = t.shape[0], w = t.shape[1];
            // Enlarge small maps so each cell is visible; keep large ones at one pixel per element up to 480 px.
            double scale = Math.Max(1, Math.Floor(240.0 / Math.Max(h, w)));
            if (Math.Max(h, w) * scale > 480) scale = 480.0 / Math.Max(h, w);
            var bar = string.Join(",", Enumerable.Range(0, 8).Select(i => Css(Colour(i / 7.0))));
            caption ??= TensorFormatters.Describe(t);
            return $"<figure class=\"convmae-heatmap\" style=\"display:inline-block;margin:4px\">" +
                   $"<div style=\"display:flex;align-items:stretch;gap:6px\">" +
                   $"<img class=\"convmae-image\" width=\"{w * scale:0}\" height=\"{h * scale:0}\" style=\"image-rendering:pixelated\" " +
                   $"src=\"data:image/png;base64,{Png(img)}\"/>" +
                   $"<div style=\"display:flex;flex-direction:column;justify-content:space-between;font-size:small\">" +
                   $"<span>{Format(hi)}</span><div style=\"flex:1;width:12px;background:linear-gradient(to top,{bar})\"></div>" +
                   $"<span>{Format(lo)}</span></div></div>" +
                   $"<figcaption style=\"font-size:small\">{RuntimeTable.Html(caption)}</figcaption></figure>";
        }
    }

    static string Css(Rgb24 c) => $"rgb({c.R},{c.G},{c.B})";
    static string Format(double v) => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);

    internal static string Png(Image img)
    {
        using var ms = new MemoryStream();
        img.SaveAsPng(ms);
        return Convert.ToBase64String(ms.ToArray());
    }
}
