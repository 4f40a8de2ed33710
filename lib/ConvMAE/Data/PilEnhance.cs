namespace ConvMAE.Data;

/// <summary>
/// Pillow's <c>ImageEnhance</c> (Color, Contrast, Brightness, Sharpness), bit-exact with Pillow 9.4. Each one
/// blends a "degenerate" image with the original, <c>Image.blend(degenerate, img, factor)</c>, so factor 1 is the
/// identity, 0 the degenerate image and factors above 1 extrapolate away from it.
/// </summary>
public static class PilEnhance
{
    /// <summary>
    /// <c>Image.blend(a, b, alpha)</c>: <c>a + alpha (b - a)</c> in single precision (Pillow passes alpha to C
    /// as a float), truncated to a byte, not rounded; outside [0,1] the result is clipped first.
    /// </summary>
    public static Rgb8Image Blend(Rgb8Image a, Rgb8Image b, float alpha)
    {
        if (a.Width != b.Width || a.Height != b.Height) throw new ArgumentException("blend needs images of one size");
        if (alpha == 0f) return a.Clone();
        if (alpha == 1f) return b.Clone();
        var x = a.Data; var y = b.Data;
        var o = new byte[x.Length];
        if (alpha >= 0f && alpha <= 1f)
        {
            for (int i = 0; i < o.Length; i++) o[i] = (byte)(x[i] + alpha * (y[i] - x[i]));
        }
        else
        {
            for (int i = 0; i < o.Length; i++)
            {
                float t = x[i] + alpha * (y[i] - x[i]);
                o[i] = t <= 0f ? (byte)0 : t >= 255f ? (byte)255 : (byte)t;
            }
        }
        return new Rgb8Image(a.Width, a.Height, o);
    }

    /// <summary>Pillow's RGB→L: ITU-R 601-2 luma in 16.16 fixed point, <c>(19595 R + 38470 G + 7471 B + 0x8000) >> 16</c>.</summary>
    public static byte Luma(byte r, byte g, byte b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);

    /// <summary><c>img.convert("L").convert("RGB")</c>: the luma copied into all three channels.</summary>
    public static Rgb8Image Grayscale(Rgb8Image img)
    {
        var s = img.Data; var o = new byte[s.Length];
        for (int i = 0; i < s.Length; i += 3) o[i] = o[i + 1] = o[i + 2] = Luma(s[i], s[i + 1], s[i + 2]);
        return new Rgb8Image(img.Width, img.Height, o);
    }

    /// <summary><c>ImageEnhance.Color</c>: blend with the grayscale image (0 = gray, 1 = original).</summary>
    public static Rgb8Image Color(Rgb8Image img, double factor) => Blend(Grayscale(img), img, (float)factor);

    /// <summary><c>ImageEnhance.Contrast</c>: blend with a flat image at the luma mean, <c>int(mean + 0.5)</c>.</summary>
    public static Rgb8Image Contrast(Rgb8Image img, double factor)
    {
        var s = img.Data;
        long sum = 0;
        for (int i = 0; i < s.Length; i += 3) sum += Luma(s[i], s[i + 1], s[i + 2]);
        int mean = (int)((double)sum / (img.Width * img.Height) + 0.5);
        var flat = new Rgb8Image(img.Width, img.Height);
        Array.Fill(flat.Data, (byte)mean);
        return Blend(flat, img, (float)factor);
    }

    /// <summary><c>ImageEnhance.Brightness</c>: blend with black.</summary>
    public static Rgb8Image Brightness(Rgb8Image img, double factor) =>
        Blend(new Rgb8Image(img.Width, img.Height), img, (float)factor);

    /// <summary><c>ImageEnhance.Sharpness</c>: blend with <see cref="Smooth"/>; factors above 1 sharpen.</summary>
    public static Rgb8Image Sharpness(Rgb8Image img, double factor) => Blend(Smooth(img), img, (float)factor);

    /// <summary>
    /// <c>ImageFilter.SMOOTH</c>: the 3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13 in single precision, rounded
    /// (+0.5 then truncated). As in Pillow the one-pixel border is copied unfiltered, and an image smaller than
    /// 3x3 is returned as is.
    /// </summary>
    public static Rgb8Image Smooth(Rgb8Image img)
    {
        int w = img.Width, h = img.Height;
        var s = img.Data;
        var o = (byte[])s.Clone();
        if (w < 3 || h < 3) return new Rgb8Image(w, h, o);
        float k1 = 1f / 13f, k5 = 5f / 13f;
        int stride = w * 3;
        for (int y = 1; y < h - 1; y++)
        {
            int up = (y - 1) * stride, mid = y * stride, dn = (y + 1) * stride;
            for (int x = 1; x < w - 1; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    int i = x * 3 + c;
                    // Same summation order as Pillow's ImagingFilter3x3: row below, centre row, row above.
                    float ss = 0.5f;
                    ss += s[dn + i - 3] * k1 + s[dn + i] * k1 + s[dn + i + 3] * k1;
                    ss += s[mid + i - 3] * k1 + s[mid + i] * k5 + s[mid + i + 3] * k1;
                    ss += s[up + i - 3] * k1 + s[up + i] * k1 + s[up + i + 3] * k1;
                    o[mid + i] = ss <= 0f ? (byte)0 : ss >= 255f ? (byte)255 : (byte)ss;
                }
            }
        }
        return new Rgb8Image(w, h, o);
    }
}
