using ConvMAE.Data;
using ConvMAE.Evaluation;
using Plotly.NET;
using Plotly.NET.CSharp;
using static TorchSharp.torch;
using CSharpChart = Plotly.NET.CSharp.Chart;

namespace ConvMAE.Interactive;

/// <summary>Pictures of segmentation data and results: colour-mapped label maps, predictions over images, sliding
/// windows drawn on an image, per-class IoU. Tensors are [3,H,W] in [0,1], which the kit's image formatter and
/// <see cref="Gallery"/> display.</summary>
public static class SegmentationViews
{
    /// <summary>A distinct colour per class (evenly spread hues, alternating lightness); ignore (255) is black.</summary>
    public static (byte R, byte G, byte B) Colour(int cls)
    {
        if (cls == 255) return (0, 0, 0);
        double h = (cls * 0.61803398875) % 1.0, s = 0.65, v = cls % 2 == 0 ? 0.95 : 0.7;
        int i = (int)(h * 6);
        double f = h * 6 - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        var (r, g, b) = (i % 6) switch { 0 => (v, t, p), 1 => (q, v, p), 2 => (p, v, t), 3 => (p, q, v), 4 => (t, p, v), _ => (v, p, q) };
        return ((byte)(r * 255), (byte)(g * 255), (byte)(b * 255));
    }

    /// <summary>Labels (row-major, w×h) as colours, [3,H,W].</summary>
    public static Tensor Colorize(byte[] labels, int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < labels.Length; i++)
        {
            var (r, g, b) = Colour(labels[i]);
            rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b;
        }
        return ToTensor(rgb, width, height);
    }

    public static Tensor Colorize(LabelMap map) => Colorize(map.Values, map.Width, map.Height);

    /// <summary>An RGB image as [3,H,W] in [0,1].</summary>
    public static Tensor ToTensor(Rgb8Image image) => ToTensor(image.Data, image.Width, image.Height);

    /// <summary>Row-major RGB bytes (w×h) as [3,H,W] in [0,1].</summary>
    internal static Tensor ToTensor(byte[] rgb, int width, int height) =>
        tensor(rgb, [height, width, 3], dtype: ScalarType.Byte).permute(2, 0, 1).to(float32).div(255);

    /// <summary>Classes painted over the image with the given opacity (ignored pixels left as they are).</summary>
    public static Tensor Overlay(Rgb8Image image, byte[] classes, double alpha = 0.5)
    {
        var rgb = (byte[])image.Data.Clone();
        for (int i = 0; i < classes.Length; i++)
        {
            if (classes[i] == 255) continue;
            Tint(rgb, i, Colour(classes[i]), alpha);
        }
        return ToTensor(rgb, image.Width, image.Height);
    }

    /// <summary>Pixel <paramref name="i"/> of RGB bytes mixed with colour <paramref name="c"/> at opacity <paramref name="alpha"/>.</summary>
    internal static void Tint(byte[] rgb, int i, (byte R, byte G, byte B) c, double alpha)
    {
        rgb[i * 3] = (byte)(rgb[i * 3] * (1 - alpha) + c.R * alpha);
        rgb[i * 3 + 1] = (byte)(rgb[i * 3 + 1] * (1 - alpha) + c.G * alpha);
        rgb[i * 3 + 2] = (byte)(rgb[i * 3 + 2] * (1 - alpha) + c.B * alpha);
    }

    /// <summary>The windows (y1, y2, x1, x2) outlined on the image, one colour each, two pixels wide.</summary>
    public static Tensor Windows(Rgb8Image image, IReadOnlyList<(int Y1, int Y2, int X1, int X2)> windows)
    {
        var rgb = (byte[])image.Data.Clone();
        int w = image.Width, h = image.Height;
        for (int k = 0; k < windows.Count; k++)
        {
            var (y1, y2, x1, x2) = windows[k];
            var (r, g, b) = Colour(k * 3 + 1);
            void Set(int x, int y)
            {
                if (x < 0 || y < 0 || x >= w || y >= h) return;
                rgb[(y * w + x) * 3] = r; rgb[(y * w + x) * 3 + 1] = g; rgb[(y * w + x) * 3 + 2] = b;
            }
            int inset = 2 * k % 6;                              // nested outlines stay visible where windows overlap
            for (int t = 0; t < 2; t++)
            {
                for (int x = x1 + inset; x < x2 - inset; x++) { Set(x, y1 + inset + t); Set(x, y2 - 1 - inset - t); }
                for (int y = y1 + inset; y < y2 - inset; y++) { Set(x1 + inset + t, y); Set(x2 - 1 - inset - t, y); }
            }
        }
        return ToTensor(rgb, w, h);
    }

    /// <summary>Per-class IoU (and accuracy) as bars, percent; NaN classes (absent from data and predictions) are left out.</summary>
    public static GenericChart ClassIoU(SegResult r, IReadOnlyList<string> classNames, string title)
    {
        var kept = Enumerable.Range(0, r.IoU.Length).Where(k => !double.IsNaN(r.IoU[k])).ToList();
        var names = kept.Select(k => k < classNames.Count ? classNames[k] : $"class {k}").ToArray();
        var chart = CSharpChart.Combine([
            CSharpChart.Column<double, string, string>(kept.Select(k => 100 * r.IoU[k]).ToArray(), Keys: names, Name: "IoU"),
            CSharpChart.Column<double, string, string>(kept.Select(k => double.IsNaN(r.Acc[k]) ? 0 : 100 * r.Acc[k]).ToArray(), Keys: names, Name: "Acc"),
        ]);
        chart = chart.WithYAxisStyle<double, double, string>(TitleText: "percent");
        return Charts.WithTitle(chart.WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultHeight), title);
    }
}
