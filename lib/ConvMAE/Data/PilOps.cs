namespace ConvMAE.Data;

/// <summary>
/// Pillow's <c>ImageOps</c> point operations on <see cref="Rgb8Image"/>, bit-exact with Pillow 9.4 (the
/// version checked against, see tests/ConvMAE.Tests/Augment/PilReference*). All are per-channel lookup
/// tables, as in Pillow (<c>image.point(lut)</c> with one 256-entry table per band). None mutates its input.
/// </summary>
public static class PilOps
{
    /// <summary>Applies one 256-entry table per channel (<c>luts[c][v]</c>) and returns a new image.</summary>
    public static Rgb8Image ApplyLut(Rgb8Image img, byte[][] luts)
    {
        var src = img.Data;
        var dst = new byte[src.Length];
        byte[] l0 = luts[0], l1 = luts[1], l2 = luts[2];
        for (int i = 0; i < src.Length; i += 3)
        {
            dst[i] = l0[src[i]];
            dst[i + 1] = l1[src[i + 1]];
            dst[i + 2] = l2[src[i + 2]];
        }
        return new Rgb8Image(img.Width, img.Height, dst);
    }

    static Rgb8Image ApplyLut(Rgb8Image img, byte[] lut) => ApplyLut(img, [lut, lut, lut]);

    static byte[] Lut(Func<int, int> f)
    {
        var lut = new byte[256];
        for (int i = 0; i < 256; i++) lut[i] = (byte)f(i);
        return lut;
    }

    /// <summary>Per-channel 256-bin histograms, <c>[c][v]</c> (Pillow's <c>image.histogram()</c> split by band).</summary>
    public static int[][] Histograms(Rgb8Image img)
    {
        var h = new[] { new int[256], new int[256], new int[256] };
        var d = img.Data;
        for (int i = 0; i < d.Length; i += 3) { h[0][d[i]]++; h[1][d[i + 1]]++; h[2][d[i + 2]]++; }
        return h;
    }

    /// <summary><c>ImageOps.invert</c>: 255 - v.</summary>
    public static Rgb8Image Invert(Rgb8Image img) => ApplyLut(img, Lut(i => 255 - i));

    /// <summary><c>ImageOps.posterize(img, bits)</c>: keeps the top <paramref name="bits"/> bits (0 gives black).
    /// timm's wrapper returns the image untouched for bits ≥ 8; so does this.</summary>
    public static Rgb8Image Posterize(Rgb8Image img, int bits)
    {
        if (bits >= 8) return img.Clone();
        int mask = ~((1 << (8 - Math.Max(bits, 0))) - 1);
        return ApplyLut(img, Lut(i => i & mask));
    }

    /// <summary><c>ImageOps.solarize(img, threshold)</c>: values ≥ threshold are inverted (threshold 256 is a no-op).</summary>
    public static Rgb8Image Solarize(Rgb8Image img, int threshold) =>
        ApplyLut(img, Lut(i => i < threshold ? i : 255 - i));

    /// <summary>timm's <c>solarize_add</c>: values below the threshold get <paramref name="add"/> added, capped at 255.</summary>
    public static Rgb8Image SolarizeAdd(Rgb8Image img, int add, int threshold = 128) =>
        ApplyLut(img, Lut(i => i < threshold ? Math.Min(255, i + add) : i));

    /// <summary>
    /// <c>ImageOps.autocontrast(img)</c> (cutoff 0): each channel's darkest value maps to 0 and its brightest to
    /// 255 by <c>int(v * scale + offset)</c>, truncated not rounded (Pillow's quirk). A flat channel is unchanged.
    /// </summary>
    public static Rgb8Image AutoContrast(Rgb8Image img)
    {
        var hist = Histograms(img);
        var luts = new byte[3][];
        for (int c = 0; c < 3; c++)
        {
            var h = hist[c];
            int lo = 0, hi = 255;
            while (lo < 255 && h[lo] == 0) lo++;
            while (hi > 0 && h[hi] == 0) hi--;
            if (hi <= lo) { luts[c] = Lut(i => i); continue; }
            double scale = 255.0 / (hi - lo), offset = -lo * scale;
            luts[c] = Lut(i => Math.Clamp((int)(i * scale + offset), 0, 255));
        }
        return ApplyLut(img, luts);
    }

    /// <summary>
    /// <c>ImageOps.equalize(img)</c>: per channel, <c>step = (N - count of the last used value) // 255</c> and
    /// <c>lut[i] = (step//2 + Σ_{j&lt;i} h[j]) // step</c>. Channels with one used value, or a zero step, are unchanged.
    /// (The last bin is left out of the step, so the brightest value usually lands on 255 or just below.)
    /// </summary>
    public static Rgb8Image Equalize(Rgb8Image img)
    {
        var hist = Histograms(img);
        var luts = new byte[3][];
        for (int c = 0; c < 3; c++)
        {
            var h = hist[c];
            int used = 0, last = 0; long total = 0;
            for (int i = 0; i < 256; i++) if (h[i] != 0) { used++; last = h[i]; total += h[i]; }
            long step = used <= 1 ? 0 : (total - last) / 255;
            if (step == 0) { luts[c] = Lut(i => i); continue; }
            var lut = new byte[256];
            long n = step / 2;
            for (int i = 0; i < 256; i++) { lut[i] = (byte)Math.Min(255, n / step); n += h[i]; }
            luts[c] = lut;
        }
        return ApplyLut(img, luts);
    }
}
