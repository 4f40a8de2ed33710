using System.Text.Json;
using System.Text.Json.Nodes;
using ConvMAE.DataPrep.Coco;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace ConvMAE.DataPrep;

public sealed record CocoDemoOptions(int Seed = 0, int Train = 800, int Val = 100, int MinSide = 112, int MaxSide = 160)
{
    public const int FormatVersion = 1;
}

/// <summary>
/// The embedded detection dataset, in the COCO 2017 layout (train2017/ and val2017/ JPEGs,
/// annotations/instances_{train,val}2017.json). Four categories that differ in shape only (colour, size and rotation
/// are drawn from one distribution for all), with COCO's non-contiguous ids (1, 3, 7, 12). Objects are 8 px to half
/// the image across; later objects occlude earlier ones. Annotations use every format COCO readers must handle:
/// an unoccluded object is a polygon (the same polygon is rasterised, with pycocotools' rule, to paint it, so pixels
/// and mask agree exactly); an occluded one is its visible part as RLE, alternately compressed (a string) and
/// uncompressed (a list); about one image in six holds a crowd (a cluster of tiny objects of one category) as one
/// iscrowd=1 uncompressed RLE; about one in twenty has no object. Deterministic from the seed; idempotent via the manifest.
/// </summary>
public static class CocoDemoDataset
{
    public static readonly (int Id, string Name)[] Categories = [(1, "circle"), (3, "square"), (7, "triangle"), (12, "star")];

    public static bool Generate(string root, CocoDemoOptions o, Action<string>? progress = null)
    {
        var manifest = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["format_version"] = CocoDemoOptions.FormatVersion, ["seed"] = o.Seed, ["train2017"] = o.Train, ["val2017"] = o.Val,
            ["min_side"] = o.MinSide, ["max_side"] = o.MaxSide, ["categories"] = Categories.Select(c => c.Name).ToArray(),
        }, new JsonSerializerOptions { WriteIndented = true });
        return GeneratedFolder.Write(root, manifest, "a COCO-format demo dataset", tmp =>
        {
            var jpeg = new JpegEncoder { Quality = 92 };
            Directory.CreateDirectory(Path.Combine(tmp, "annotations"));
            foreach (var (split, n, splitSeed, firstId) in new[] { ("train2017", o.Train, 1, 1), ("val2017", o.Val, 2, 100_001) })
            {
                Directory.CreateDirectory(Path.Combine(tmp, split));
                var images = new JsonArray(); var annotations = new JsonArray();
                long annId = firstId * 10L;
                int objects = 0, crowds = 0, empty = 0;
                for (int i = 0; i < n; i++)
                {
                    var rng = new Random(unchecked(o.Seed * 1_000_003 + splitSeed * 100_003 + i * 7919 + 17) & 0x7fffffff);
                    int w = rng.Next(o.MinSide, o.MaxSide + 1), h = rng.Next(o.MinSide, o.MaxSide + 1);
                    long imageId = firstId + i;
                    var file = $"{imageId:D12}.jpg";
                    var scene = Render(w, h, rng);
                    using (var img = Image.LoadPixelData<Rgb24>(scene.Rgb, w, h)) img.SaveAsJpeg(Path.Combine(tmp, split, file), jpeg);
                    images.Add(new JsonObject { ["id"] = imageId, ["width"] = w, ["height"] = h, ["file_name"] = file });
                    foreach (var a in scene.Annotations)
                    {
                        a["id"] = annId++; a["image_id"] = imageId;
                        annotations.Add(a);
                        if ((int)a["iscrowd"]! == 1) crowds++; else objects++;
                    }
                    if (scene.Annotations.Count == 0) empty++;
                }
                var doc = new JsonObject
                {
                    ["info"] = new JsonObject { ["description"] = "ConvMAE.Notebooks embedded detection data (synthetic shapes)", ["version"] = CocoDemoOptions.FormatVersion },
                    ["images"] = images, ["annotations"] = annotations,
                    ["categories"] = new JsonArray(Categories.Select(c => (JsonNode)new JsonObject { ["id"] = c.Id, ["name"] = c.Name, ["supercategory"] = "shape" }).ToArray()),
                };
                File.WriteAllText(Path.Combine(tmp, "annotations", $"instances_{split}.json"), doc.ToJsonString());
                progress?.Invoke($"{split}: {n} images, {objects} objects, {crowds} crowd regions, {empty} without objects");
            }
        });
    }

    /// <summary>One image: RGB bytes and its annotations (without ids).</summary>
    public sealed record Scene(byte[] Rgb, List<JsonObject> Annotations);

    sealed record Placed(int Category, byte[] Mask, double[] Polygon, (byte R, byte G, byte B) Colour);

    public static Scene Render(int w, int h, Random rng)
    {
        var rgb = Background(w, h, rng);
        var anns = new List<JsonObject>();
        if (rng.NextDouble() < 0.05) return new Scene(rgb, anns);
        // Painter's order: the crowd cluster (if any) first, then the objects; each occludes what came before.
        var layers = new List<(Placed[] Parts, bool Crowd)>();
        if (rng.NextDouble() < 0.17)
        {
            int cat = rng.Next(Categories.Length);
            double cx = w * (0.2 + 0.6 * rng.NextDouble()), cy = h * (0.2 + 0.6 * rng.NextDouble());
            var colour = Contrasting(rgb, w, h, cx, cy, rng);
            var parts = Enumerable.Range(0, 6 + rng.Next(6)).Select(_ =>
                Place(cat, cx + (rng.NextDouble() - 0.5) * w * 0.3, cy + (rng.NextDouble() - 0.5) * h * 0.3, 2 + 2 * rng.NextDouble(), rng, colour, w, h)).ToArray();
            layers.Add((parts, true));
        }
        int count = 1 + rng.Next(6);
        double minSide = Math.Min(w, h);
        for (int k = 0; k < count; k++)
        {
            // Diameter log-uniform from 8 px to half the shorter side.
            double r = Math.Exp(Math.Log(4) + rng.NextDouble() * (Math.Log(minSide / 4) - Math.Log(4)));
            double cx = r * 0.5 + rng.NextDouble() * (w - r), cy = r * 0.5 + rng.NextDouble() * (h - r);
            layers.Add(([Place(rng.Next(Categories.Length), cx, cy, r, rng, Contrasting(rgb, w, h, cx, cy, rng), w, h)], false));
        }
        foreach (var (parts, _) in layers)
            foreach (var p in parts) Paint(rgb, p, w, h, rng);
        // Visible masks: each layer minus every later layer.
        var covered = new byte[w * h];
        var visible = new byte[layers.Count][];
        for (int l = layers.Count - 1; l >= 0; l--)
        {
            var union = new byte[w * h];
            foreach (var p in layers[l].Parts) for (int i = 0; i < union.Length; i++) union[i] |= p.Mask[i];
            var vis = new byte[w * h];
            for (int i = 0; i < vis.Length; i++) vis[i] = (byte)(union[i] & (1 - covered[i]));
            for (int i = 0; i < vis.Length; i++) covered[i] |= union[i];
            visible[l] = vis;
        }
        for (int l = 0; l < layers.Count; l++)
        {
            var (parts, crowd) = layers[l];
            var rle = Rle.Encode(visible[l], h, w);
            uint area = rle.Area();
            if (area < 6) continue;                                   // hidden (or nearly) behind later objects: not annotated
            var bbox = rle.ToBbox();
            var ann = new JsonObject
            {
                ["category_id"] = Categories[parts[0].Category].Id, ["iscrowd"] = crowd ? 1 : 0, ["area"] = (double)area,
                ["bbox"] = new JsonArray(bbox.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
            };
            bool whole = !crowd && area == parts[0].Mask.Count(b => b != 0);
            if (whole) ann["segmentation"] = new JsonArray(new JsonArray(parts[0].Polygon.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()));
            else if (crowd || rng.Next(2) == 0)
                ann["segmentation"] = new JsonObject { ["size"] = new JsonArray(h, w), ["counts"] = new JsonArray(rle.Counts.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()) };
            else ann["segmentation"] = new JsonObject { ["size"] = new JsonArray(h, w), ["counts"] = rle.ToCompressedString() };
            anns.Add(ann);
        }
        return new Scene(rgb, anns);
    }

    /// <summary>A smooth two-colour gradient with pixel noise and a few faint blobs (so that "not an object" is not "flat").</summary>
    static byte[] Background(int w, int h, Random rng)
    {
        var a = Colour(rng); var b = Colour(rng);
        double angle = rng.NextDouble() * Math.PI * 2, ca = Math.Cos(angle), sa = Math.Sin(angle);
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double t = Math.Clamp(0.5 + ((x - w / 2.0) * ca + (y - h / 2.0) * sa) / Math.Max(w, h), 0, 1);
                double n = (rng.NextDouble() - 0.5) * 24;
                int i = (y * w + x) * 3;
                rgb[i] = Clamp(a.R + (b.R - a.R) * t + n); rgb[i + 1] = Clamp(a.G + (b.G - a.G) * t + n); rgb[i + 2] = Clamp(a.B + (b.B - a.B) * t + n);
            }
        return rgb;
    }

    /// <summary>A colour at least 80 (L1 over RGB) from the background at the object's centre, so that every object is visible.</summary>
    static (byte R, byte G, byte B) Contrasting(byte[] rgb, int w, int h, double cx, double cy, Random rng)
    {
        int i = (Math.Clamp((int)cy, 0, h - 1) * w + Math.Clamp((int)cx, 0, w - 1)) * 3;
        for (int attempt = 0; ; attempt++)
        {
            var c = Colour(rng);
            if (attempt == 20 || Math.Abs(c.R - rgb[i]) + Math.Abs(c.G - rgb[i + 1]) + Math.Abs(c.B - rgb[i + 2]) >= 80) return c;
        }
    }

    static (byte R, byte G, byte B) Colour(Random rng) => ((byte)rng.Next(20, 236), (byte)rng.Next(20, 236), (byte)rng.Next(20, 236));

    /// <summary>A shape at (cx, cy) of radius r, rotated at random: its outline as a polygon (48 points on the zero
    /// level of its distance function) and that polygon rasterised as pycocotools does.</summary>
    static Placed Place(int cat, double cx, double cy, double r, Random rng, (byte, byte, byte) colour, int w, int h)
    {
        string shape = Categories[cat].Name;
        double rot = rng.NextDouble() * Math.PI * 2;
        const int N = 48;
        var poly = new double[2 * N];
        for (int k = 0; k < N; k++)
        {
            double phi = 2 * Math.PI * k / N, c = Math.Cos(phi), s = Math.Sin(phi);
            double lo = 0, hi = 1.2;                       // every shape is star-shaped about its centre and fits the unit disc
            for (int it = 0; it < 30; it++) { double m = (lo + hi) / 2; if (Shapes.Distance(shape, m * c, m * s) < 0) lo = m; else hi = m; }
            double px = lo * c, py = lo * s;
            // Rounded as written to the JSON, so that the rasterised mask is the stored polygon's.
            poly[2 * k] = Math.Round(cx + r * (px * Math.Cos(rot) - py * Math.Sin(rot)), 2);
            poly[2 * k + 1] = Math.Round(cy + r * (px * Math.Sin(rot) + py * Math.Cos(rot)), 2);
        }
        var mask = Rle.FromPolygon(poly, h, w).Decode();
        return new Placed(cat, mask, poly, colour);
    }

    /// <summary>Fills the mask with the object's colour, shaded a little across the object and noisy per pixel.</summary>
    static void Paint(byte[] rgb, Placed p, int w, int h, Random rng)
    {
        double shade = (rng.NextDouble() - 0.5) * 0.6;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                if (p.Mask[y * w + x] == 0) continue;
                double f = 1 + shade * ((double)y / h - 0.5), n = (rng.NextDouble() - 0.5) * 20;
                int i = (y * w + x) * 3;
                rgb[i] = Clamp(p.Colour.R * f + n); rgb[i + 1] = Clamp(p.Colour.G * f + n); rgb[i + 2] = Clamp(p.Colour.B * f + n);
            }
    }

    static byte Clamp(double v) => (byte)Math.Clamp((int)Math.Round(v), 0, 255);
}
