using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace ConvMAE.DataPrep;

public sealed record SceneDatasetOptions(int Seed = 0, int Train = 480, int Val = 120, int Width = 192, int Height = 144)
{
    public const int FormatVersion = 1;
}

/// <summary>
/// The embedded segmentation dataset, in the ADEChallengeData2016 layout (images/{training,validation}/*.jpg,
/// annotations/{...}/*.png with 0 = "other", 1..8 = classes): outdoor-like scenes of textured regions. Sky (a smooth
/// vertical gradient) above a horizon at a random height; below it ground, road or water bands; sometimes a brick wall;
/// tree crowns along the horizon; small people and cars standing on the ground; and a few patches of random colour
/// noise labelled 0. Every class is defined by its texture and its place in the scene, and its colours are jittered,
/// so colour alone does not decide it (sky and water are both blue; only water has ripples). Sizes differ by design:
/// sky and ground cover most pixels, people and cars a few percent (class imbalance, as in ADE20K).
/// Deterministic from the seed; a manifest makes a second run with the same options a no-op.
/// </summary>
public static class SceneDataset
{
    public static readonly string[] Classes = ["sky", "ground", "water", "wall", "tree", "person", "car", "road"];

    public static bool Generate(string root, SceneDatasetOptions o, Action<string>? progress = null)
    {
        var manifest = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["format_version"] = SceneDatasetOptions.FormatVersion, ["seed"] = o.Seed, ["training"] = o.Train, ["validation"] = o.Val,
            ["width"] = o.Width, ["height"] = o.Height, ["classes"] = Classes,
        }, new JsonSerializerOptions { WriteIndented = true });
        return GeneratedFolder.Write(root, manifest, "a scene dataset", tmp =>
        {
            var jpeg = new JpegEncoder { Quality = 92 };
            var png = new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 };
            var counts = new long[Classes.Length + 1];
            foreach (var (split, n, splitSeed) in new[] { ("training", o.Train, 1), ("validation", o.Val, 2) })
            {
                Directory.CreateDirectory(Path.Combine(tmp, "images", split));
                Directory.CreateDirectory(Path.Combine(tmp, "annotations", split));
                for (int i = 0; i < n; i++)
                {
                    var rng = new Random(unchecked(o.Seed * 1_000_003 + splitSeed * 100_003 + i * 7919 + 11) & 0x7fffffff);
                    var (rgb, labels) = Render(o.Width, o.Height, rng);
                    var name = $"ADE_{(split == "training" ? "train" : "val")}_{i + 1:D8}";
                    using (var img = Image.LoadPixelData<Rgb24>(rgb, o.Width, o.Height)) img.SaveAsJpeg(Path.Combine(tmp, "images", split, name + ".jpg"), jpeg);
                    using (var lab = Image.LoadPixelData<L8>(labels, o.Width, o.Height)) lab.SaveAsPng(Path.Combine(tmp, "annotations", split, name + ".png"), png);
                    foreach (var l in labels) counts[l]++;
                }
                progress?.Invoke($"{split}: {n} scenes");
            }
            long total = counts.Sum();
            progress?.Invoke("pixels per class: " + string.Join(", ", Enumerable.Range(0, counts.Length)
                .Select(k => $"{(k == 0 ? "other" : Classes[k - 1])} {100.0 * counts[k] / total:F1}%")));
            File.WriteAllText(Path.Combine(tmp, "README.txt"),
                "ConvMAE.Notebooks embedded segmentation data: synthetic outdoor scenes in the ADEChallengeData2016 layout.\n" +
                "Label PNGs: 0 = other (ignored with reduce_zero_label), 1..8 = " + string.Join(", ", Classes) + ".\n");
        });
    }

    /// <summary>One scene: RGB bytes (row-major) and label bytes.</summary>
    public static (byte[] Rgb, byte[] Labels) Render(int w, int h, Random rng)
    {
        var rgb = new byte[w * h * 3];
        var lab = new byte[w * h];
        double Jit(double v, double d) => v + (rng.NextDouble() * 2 - 1) * d;
        int horizon = (int)(h * (0.28 + 0.3 * rng.NextDouble()));
        // Sky: a smooth gradient from a jittered blue to a paler one.
        var skyTop = (Jit(70, 30), Jit(120, 30), Jit(210, 30));
        var skyLow = (Jit(170, 30), Jit(200, 25), Jit(235, 15));
        // Ground below: one band, or two (the nearer one road or water).
        int kind = rng.Next(3);                 // 0: ground only, 1: ground + road, 2: ground + water
        int split = horizon + (int)((h - horizon) * (0.35 + 0.4 * rng.NextDouble()));
        var grass = (Jit(95, 35), Jit(130, 30), Jit(60, 25));
        var water = (Jit(40, 20), Jit(100, 30), Jit(170, 35));
        double roadGrey = Jit(110, 30);
        double rippleF = 0.4 + 0.5 * rng.NextDouble(), ripplePhase = rng.NextDouble() * 6.3;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                double n = (rng.NextDouble() - 0.5) * 2;
                (double R, double G, double B) c;
                byte l;
                if (y < horizon)
                {
                    double t = (double)y / Math.Max(1, horizon);
                    c = (skyTop.Item1 + (skyLow.Item1 - skyTop.Item1) * t + 3 * n, skyTop.Item2 + (skyLow.Item2 - skyTop.Item2) * t + 3 * n,
                         skyTop.Item3 + (skyLow.Item3 - skyTop.Item3) * t + 3 * n);
                    l = 1;
                }
                else if (kind == 0 || y < split)
                {
                    double speck = rng.NextDouble() < 0.15 ? 40 * (rng.NextDouble() - 0.5) : 0;           // grassy speckle
                    c = (grass.Item1 + 18 * n + speck, grass.Item2 + 18 * n + speck, grass.Item3 + 18 * n);
                    l = 2;
                }
                else if (kind == 1)
                {
                    bool dash = Math.Abs(y - (split + h) / 2.0) < 1.5 && (x / 12) % 2 == 0;                 // lane marking
                    double g = dash ? 230 : roadGrey + 8 * n;
                    c = (g, g, g + 4);
                    l = 8;
                }
                else
                {
                    double ripple = 28 * Math.Sin(y * 1.7 * rippleF + Math.Sin(x * 0.15) * 1.5 + ripplePhase);
                    c = (water.Item1 + ripple * 0.5 + 5 * n, water.Item2 + ripple * 0.7 + 5 * n, water.Item3 + ripple + 5 * n);
                    l = 3;
                }
                Put(rgb, lab, i, c, l);
            }
        // A brick wall on one side, from the ground up past the horizon.
        if (rng.NextDouble() < 0.5)
        {
            int ww = (int)(w * (0.15 + 0.2 * rng.NextDouble())), x0 = rng.Next(2) == 0 ? 0 : w - ww;
            int top = Math.Max(2, horizon - (int)(h * (0.1 + 0.2 * rng.NextDouble()))), bottom = Math.Min(h, split + 2);
            var brick = (Jit(165, 30), Jit(80, 20), Jit(60, 20));
            int bh = 6 + rng.Next(3), bw = 12 + rng.Next(6);
            for (int y = top; y < bottom; y++)
                for (int x = x0; x < x0 + ww; x++)
                {
                    int row = (y - top) / bh, off = row % 2 == 0 ? 0 : bw / 2;
                    bool mortar = (y - top) % bh == 0 || (x - x0 + off) % bw == 0;
                    double n = (rng.NextDouble() - 0.5) * 16;
                    Put(rgb, lab, y * w + x, mortar ? (200 + n, 195 + n, 185 + n) : (brick.Item1 + n, brick.Item2 + n, brick.Item3 + n), 4);
                }
        }
        // Tree crowns along the horizon: clusters of dark-green discs with leafy noise.
        int trees = rng.Next(0, 4);
        for (int t = 0; t < trees; t++)
        {
            double cx = rng.NextDouble() * w, cy = horizon - 2 - rng.NextDouble() * h * 0.1, r = h * (0.07 + 0.08 * rng.NextDouble());
            var leaf = (Jit(40, 15), Jit(85, 25), Jit(35, 15));
            for (int k = 0; k < 5; k++)
            {
                double bx = cx + (rng.NextDouble() - 0.5) * r * 1.4, by = cy + (rng.NextDouble() - 0.5) * r, br = r * (0.5 + 0.4 * rng.NextDouble());
                Disc(w, h, bx, by, br, (x, y) => { double n = (rng.NextDouble() - 0.5) * 50; Put(rgb, lab, y * w + x, (leaf.Item1 + n, leaf.Item2 + n, leaf.Item3 + n * 0.5), 5); });
            }
        }
        // Unlabelled clutter ("other", 0): patches of random-colour noise.
        for (int k = rng.Next(0, 3); k > 0; k--)
        {
            int pw = 6 + rng.Next(w / 5), ph = 6 + rng.Next(h / 5), px = rng.Next(w - pw), py = rng.Next(horizon / 2, h - ph);
            var col = (Jit(128, 100), Jit(128, 100), Jit(128, 100));
            for (int y = py; y < py + ph; y++) for (int x = px; x < px + pw; x++)
                Put(rgb, lab, y * w + x, (col.Item1 + 60 * (rng.NextDouble() - 0.5), col.Item2 + 60 * (rng.NextDouble() - 0.5), col.Item3), 0);
        }
        // People and cars standing on the ground, smaller further away (nearer the horizon).
        for (int k = rng.Next(0, 5); k > 0; k--)
        {
            int footY = horizon + 4 + rng.Next(Math.Max(1, h - horizon - 4));
            double scale = 0.5 + 1.5 * (footY - horizon) / (double)(h - horizon);
            int cx = rng.Next(w);
            if (rng.Next(2) == 0)
            {   // person: a head disc over a body ellipse, skin and clothes colours
                double bh = 10 * scale, bwid = 3.2 * scale;
                var cloth = (Jit(120, 100), Jit(90, 80), Jit(110, 100));
                Ellipse(w, h, cx, footY - bh / 2, bwid, bh / 2, (x, y) => Put(rgb, lab, y * w + x, (cloth.Item1 + 6 * (rng.NextDouble() - 0.5), cloth.Item2, cloth.Item3), 6));
                Disc(w, h, cx, footY - bh - 1.6 * scale, 1.8 * scale, (x, y) => Put(rgb, lab, y * w + x, (Jit(210, 25), Jit(170, 25), Jit(140, 25)), 6));
            }
            else
            {   // car: a body box with a cabin and two dark wheels
                double cw = 16 * scale, chh = 5 * scale;
                var paint = (Jit(140, 110), Jit(110, 100), Jit(110, 100));
                Box(w, h, cx - cw / 2, footY - chh - 2 * scale, cw, chh, (x, y) => Put(rgb, lab, y * w + x, (paint.Item1, paint.Item2, paint.Item3), 7));
                Box(w, h, cx - cw / 4, footY - chh - 5 * scale, cw / 2, 3 * scale, (x, y) => Put(rgb, lab, y * w + x, (paint.Item1 * 0.8 + 40, paint.Item2 * 0.8 + 40, paint.Item3 * 0.8 + 50), 7));
                foreach (var wx in new[] { cx - cw / 3, cx + cw / 3 })
                    Disc(w, h, wx, footY - 1.8 * scale, 1.8 * scale, (x, y) => Put(rgb, lab, y * w + x, (25, 25, 28), 7));
            }
        }
        return (rgb, lab);
    }

    static void Put(byte[] rgb, byte[] lab, int i, (double R, double G, double B) c, byte l)
    {
        rgb[i * 3] = (byte)Math.Clamp(c.R, 0, 255);
        rgb[i * 3 + 1] = (byte)Math.Clamp(c.G, 0, 255);
        rgb[i * 3 + 2] = (byte)Math.Clamp(c.B, 0, 255);
        lab[i] = l;
    }

    static void Disc(int w, int h, double cx, double cy, double r, Action<int, int> paint) => Ellipse(w, h, cx, cy, r, r, paint);

    static void Ellipse(int w, int h, double cx, double cy, double rx, double ry, Action<int, int> paint)
    {
        for (int y = Math.Max(0, (int)(cy - ry)); y <= Math.Min(h - 1, (int)(cy + ry)); y++)
            for (int x = Math.Max(0, (int)(cx - rx)); x <= Math.Min(w - 1, (int)(cx + rx)); x++)
            {
                double dx = (x + 0.5 - cx) / rx, dy = (y + 0.5 - cy) / ry;
                if (dx * dx + dy * dy <= 1) paint(x, y);
            }
    }

    static void Box(int w, int h, double x0, double y0, double bw, double bh, Action<int, int> paint)
    {
        for (int y = Math.Max(0, (int)y0); y < Math.Min(h, (int)(y0 + bh)); y++)
            for (int x = Math.Max(0, (int)x0); x < Math.Min(w, (int)(x0 + bw)); x++) paint(x, y);
    }
}
