namespace ConvMAE.Data.Segmentation;

/// <summary>A transformed sample: RGB pixels and labels (0..K−1, 255 = ignore) of Width×Height, to be padded to the
/// batch's size (images with 0 after normalisation, labels with 255).</summary>
public sealed record SegSample(byte[] Pixels, byte[] Labels, int Width, int Height, string Name);

/// <summary>
/// mmseg's ADE20K pipelines (configs/_base_/datasets/ade20k.py), on plain arrays with randomness from the given
/// Random only (so a sample is a function of seed, epoch and position, whatever the threads do).
/// Training: reduce_zero_label, Resize(img_scale, ratio_range 0.5–2.0, keep ratio), RandomCrop(crop, cat_max_ratio
/// 0.75), RandomFlip(0.5), PhotoMetricDistortion; Normalize and Pad happen on the batch tensor. Testing:
/// reduce_zero_label, Resize(img_scale, keep ratio). Images are resized bilinearly, labels by nearest neighbour (as
/// mmcv: cv2 INTER_NEAREST). Pixel values are not bit-identical to OpenCV's (different resampling code); the
/// geometry and the random choices follow mmseg.
/// </summary>
public sealed record SegPipeline(int ScaleLong = 2048, int ScaleShort = 512, double RatioMin = 0.5, double RatioMax = 2.0, int CropSize = 512,
                                 double CatMaxRatio = 0.75, double FlipProb = 0.5, bool PhotoMetric = true, bool ReduceZeroLabel = true)
{
    public const byte Ignore = 255;

    /// <summary>The official ADE20K setting: img_scale (2048, 512), crop 512.</summary>
    public static SegPipeline Ade20k { get; } = new();

    public SegSample Train(SegImage s, Random rng)
    {
        double ratio = rng.NextDouble() * (RatioMax - RatioMin) + RatioMin;          // random_sample_ratio
        var (img, lab, w, h) = Rescale(s.Image.Data, Reduce(s.Label.Values), s.Image.Width, s.Image.Height,
                                       (int)(ScaleLong * ratio), (int)(ScaleShort * ratio));
        (img, lab, w, h) = RandomCrop(img, lab, w, h, rng);
        if (rng.NextDouble() < FlipProb) (img, lab) = (FlipH(img, w, h, 3), FlipH(lab, w, h, 1));
        if (PhotoMetric) PhotoMetricDistortion.Apply(img, rng);
        return new SegSample(img, lab, w, h, s.Name);
    }

    /// <summary>The test pipeline: keep-ratio resize to img_scale; the label stays at the original size (mmseg
    /// evaluates against the original annotation after resizing the logits back).</summary>
    public (SegSample Resized, byte[] OriginalLabels) Test(SegImage s)
    {
        var labels = Reduce(s.Label.Values);
        var (img, _, w, h) = Rescale(s.Image.Data, labels, s.Image.Width, s.Image.Height, ScaleLong, ScaleShort, resizeLabels: false);
        return (new SegSample(img, [], w, h, s.Name), labels);
    }

    /// <summary>reduce_zero_label: 0 (other) → 255, k → k − 1, 255 stays.</summary>
    public byte[] Reduce(byte[] labels)
    {
        if (!ReduceZeroLabel) return (byte[])labels.Clone();
        var r = new byte[labels.Length];
        for (int i = 0; i < r.Length; i++) r[i] = labels[i] is 0 or 255 ? Ignore : (byte)(labels[i] - 1);
        return r;
    }

    /// <summary>mmcv.imrescale: scale factor min(long/max(h,w), short/min(h,w)), new size int(x·f + 0.5).</summary>
    public static (int W, int H) RescaleSize(int w, int h, int scaleLong, int scaleShort)
    {
        double f = Math.Min((double)scaleLong / Math.Max(h, w), (double)scaleShort / Math.Min(h, w));
        return ((int)(w * f + 0.5), (int)(h * f + 0.5));
    }

    static (byte[] Img, byte[] Lab, int W, int H) Rescale(byte[] img, byte[] lab, int w, int h, int scaleLong, int scaleShort, bool resizeLabels = true)
    {
        var (nw, nh) = RescaleSize(w, h, scaleLong, scaleShort);
        return (ResizeBilinear(img, w, h, nw, nh), resizeLabels ? ResizeNearest(lab, w, h, nw, nh) : lab, nw, nh);
    }

    /// <summary>RandomCrop with cat_max_ratio: up to 10 draws until no class (ignore excluded) covers cat_max_ratio
    /// or more of the crop and more than one class is present; then the last draw is used.</summary>
    (byte[], byte[], int, int) RandomCrop(byte[] img, byte[] lab, int w, int h, Random rng)
    {
        int cw = Math.Min(CropSize, w), ch = Math.Min(CropSize, h);
        (int X, int Y) Draw() => (rng.Next(Math.Max(w - CropSize, 0) + 1), rng.Next(Math.Max(h - CropSize, 0) + 1));
        var (x0, y0) = Draw();
        if (CatMaxRatio < 1)
            for (int attempt = 0; attempt < 10; attempt++)
            {
                var counts = new int[256];
                for (int y = y0; y < y0 + ch; y++) for (int x = x0; x < x0 + cw; x++) counts[lab[y * w + x]]++;
                counts[Ignore] = 0;
                int classes = counts.Count(c => c > 0), total = counts.Sum();
                if (classes > 1 && (double)counts.Max() / total < CatMaxRatio) break;
                (x0, y0) = Draw();
            }
        var ci = new byte[cw * ch * 3];
        var cl = new byte[cw * ch];
        for (int y = 0; y < ch; y++)
        {
            Buffer.BlockCopy(img, ((y0 + y) * w + x0) * 3, ci, y * cw * 3, cw * 3);
            Buffer.BlockCopy(lab, (y0 + y) * w + x0, cl, y * cw, cw);
        }
        return (ci, cl, cw, ch);
    }

    /// <summary>Left-right mirror of a w×h array of <paramref name="channels"/> bytes per pixel.</summary>
    public static byte[] FlipH(byte[] a, int w, int h, int channels)
    {
        var r = new byte[a.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                Buffer.BlockCopy(a, (y * w + x) * channels, r, (y * w + (w - 1 - x)) * channels, channels);
        return r;
    }

    /// <summary>cv2 INTER_NEAREST: source index floor(dst · src / dst_size).</summary>
    public static byte[] ResizeNearest(byte[] a, int w, int h, int nw, int nh)
    {
        var r = new byte[nw * nh];
        for (int y = 0; y < nh; y++)
        {
            int sy = Math.Min(h - 1, (int)Math.Floor(y * (double)h / nh));
            for (int x = 0; x < nw; x++) r[y * nw + x] = a[sy * w + Math.Min(w - 1, (int)Math.Floor(x * (double)w / nw))];
        }
        return r;
    }

    /// <summary>Bilinear resize with half-pixel centres (cv2 INTER_LINEAR's geometry, no antialiasing), RGB.</summary>
    public static byte[] ResizeBilinear(byte[] a, int w, int h, int nw, int nh)
    {
        if (nw == w && nh == h) return (byte[])a.Clone();
        var r = new byte[nw * nh * 3];
        double sx = (double)w / nw, sy = (double)h / nh;
        for (int y = 0; y < nh; y++)
        {
            double fy = Math.Clamp((y + 0.5) * sy - 0.5, 0, h - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, h - 1);
            double ty = fy - y0;
            for (int x = 0; x < nw; x++)
            {
                double fx = Math.Clamp((x + 0.5) * sx - 0.5, 0, w - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, w - 1);
                double tx = fx - x0;
                for (int c = 0; c < 3; c++)
                {
                    double top = a[(y0 * w + x0) * 3 + c] * (1 - tx) + a[(y0 * w + x1) * 3 + c] * tx;
                    double bottom = a[(y1 * w + x0) * 3 + c] * (1 - tx) + a[(y1 * w + x1) * 3 + c] * tx;
                    r[(y * nw + x) * 3 + c] = (byte)Math.Clamp((int)Math.Round(top * (1 - ty) + bottom * ty), 0, 255);
                }
            }
        }
        return r;
    }
}

/// <summary>
/// mmseg's PhotoMetricDistortion on 8-bit RGB: random brightness (±32), then contrast (0.5–1.5) first or last (a coin
/// flip), saturation (0.5–1.5, on HSV's S) and hue (±18 of OpenCV's 0..179 hue), each applied with probability ½;
/// every step clips to 0..255 and truncates to integers as mmseg's convert does. HSV is OpenCV's 8-bit convention.
/// </summary>
public static class PhotoMetricDistortion
{
    public static void Apply(byte[] rgb, Random rng)
    {
        if (rng.Next(2) == 1) Convert(rgb, 1.0, Uniform(rng, -32, 32));
        int mode = rng.Next(2);
        if (mode == 1 && rng.Next(2) == 1) Convert(rgb, Uniform(rng, 0.5, 1.5), 0);
        if (rng.Next(2) == 1)
        {
            double alpha = Uniform(rng, 0.5, 1.5);
            MapHsv(rgb, (ref int h, ref int s, ref int v) => s = Clip(s * alpha));
        }
        if (rng.Next(2) == 1)
        {
            int delta = rng.Next(-18, 18);                                             // numpy randint: high exclusive
            MapHsv(rgb, (ref int h, ref int s, ref int v) => h = ((h + delta) % 180 + 180) % 180);
        }
        if (mode == 0 && rng.Next(2) == 1) Convert(rgb, Uniform(rng, 0.5, 1.5), 0);
    }

    static double Uniform(Random rng, double lo, double hi) => lo + (hi - lo) * rng.NextDouble();

    static int Clip(double v) => (int)Math.Clamp(v, 0, 255);                          // np.clip then astype(uint8)

    static void Convert(byte[] a, double alpha, double beta)
    {
        for (int i = 0; i < a.Length; i++) a[i] = (byte)Clip(a[i] * alpha + beta);
    }

    delegate void HsvMap(ref int h, ref int s, ref int v);

    static void MapHsv(byte[] rgb, HsvMap map)
    {
        for (int i = 0; i < rgb.Length; i += 3)
        {
            ToHsv(rgb[i], rgb[i + 1], rgb[i + 2], out int h, out int s, out int v);
            map(ref h, ref s, ref v);
            FromHsv(h, s, v, out rgb[i], out rgb[i + 1], out rgb[i + 2]);
        }
    }

    /// <summary>OpenCV's 8-bit RGB→HSV: H in 0..179 (degrees / 2), S and V in 0..255, rounded.</summary>
    public static void ToHsv(int r, int g, int b, out int h, out int s, out int v)
    {
        int max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b)), diff = max - min;
        v = max;
        s = max == 0 ? 0 : (int)Math.Round(255.0 * diff / max);
        double hue = diff == 0 ? 0 : max == r ? 60.0 * (g - b) / diff : max == g ? 120 + 60.0 * (b - r) / diff : 240 + 60.0 * (r - g) / diff;
        if (hue < 0) hue += 360;
        h = (int)Math.Round(hue / 2) % 180;
    }

    public static void FromHsv(int h, int s, int v, out byte r, out byte g, out byte b)
    {
        double hh = h * 2 / 60.0, ss = s / 255.0, vv = v;
        int sector = (int)Math.Floor(hh) % 6;
        double f = hh - Math.Floor(hh), p = vv * (1 - ss), q = vv * (1 - ss * f), t = vv * (1 - ss * (1 - f));
        var (rr, gg, bb) = sector switch { 0 => (vv, t, p), 1 => (q, vv, p), 2 => (p, vv, t), 3 => (p, q, vv), 4 => (t, p, vv), _ => (vv, p, q) };
        r = (byte)Math.Clamp((int)Math.Round(rr), 0, 255);
        g = (byte)Math.Clamp((int)Math.Round(gg), 0, 255);
        b = (byte)Math.Clamp((int)Math.Round(bb), 0, 255);
    }
}
