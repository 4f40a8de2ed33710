namespace ConvMAE.Data;

/// <summary>Resampling filters Pillow's <c>Image.transform</c> accepts for affine maps (timm uses the last two).</summary>
public enum PilResample { Bilinear, Bicubic }

/// <summary>
/// Pillow's affine <c>Image.transform(size, AFFINE, (a,b,c,d,e,f), resample, fillcolor=...)</c> and
/// <c>Image.rotate</c>, bit-exact with Pillow 9.4. The coefficients map an output pixel centre (x+.5, y+.5) to the
/// input point (a x + b y + c, d x + e y + f), so a positive translation c moves the content left/up, and a shear
/// (1, f, 0, 0, 1, 0) is taken about the top edge (y = 0), not the centre. Output pixels whose source point falls
/// outside [0,W)x[0,H) get the fill colour; inside, edge neighbours are clamped.
/// </summary>
public static class PilAffine
{
    public static Rgb8Image Transform(Rgb8Image img, ReadOnlySpan<double> m, PilResample resample, ReadOnlySpan<byte> fill)
    {
        if (m.Length < 6) throw new ArgumentException("an affine map has 6 coefficients");
        if (fill.Length != 3) throw new ArgumentException("fill is an RGB triple");
        int w = img.Width, h = img.Height;
        var src = img.Data;
        var dst = new byte[src.Length];
        double a0 = m[0], a1 = m[1], a2 = m[2], a3 = m[3], a4 = m[4], a5 = m[5];
        Span<byte> px = stackalloc byte[3];
        for (int y = 0; y < h; y++)
        {
            double yc = y + 0.5;
            for (int x = 0; x < w; x++)
            {
                double xc = x + 0.5;
                double xin = a0 * xc + a1 * yc + a2, yin = a3 * xc + a4 * yc + a5;
                int o = (y * w + x) * 3;
                bool inside = xin >= 0.0 && xin < w && yin >= 0.0 && yin < h;
                if (!inside) { dst[o] = fill[0]; dst[o + 1] = fill[1]; dst[o + 2] = fill[2]; continue; }
                if (resample == PilResample.Bilinear) Bilinear(src, w, h, xin, yin, px); else Bicubic(src, w, h, xin, yin, px);
                dst[o] = px[0]; dst[o + 1] = px[1]; dst[o + 2] = px[2];
            }
        }
        return new Rgb8Image(w, h, dst);
    }

    /// <summary>
    /// <c>Image.rotate(degrees, resample, fillcolor=fill)</c> about the image centre (W/2, H/2), counter-clockwise,
    /// same size. Like Pillow, angle ≡ 0 (mod 360) returns a copy and 180 an exact flip; the matrix entries are
    /// rounded to 15 decimals as Pillow does.
    /// </summary>
    public static Rgb8Image Rotate(Rgb8Image img, double degrees, PilResample resample, ReadOnlySpan<byte> fill)
    {
        double angle = degrees - 360.0 * Math.Floor(degrees / 360.0); // Python's float %, never negative
        if (angle == 0.0) return img.Clone();
        if (angle == 180.0) return Rotate180(img);
        // 90/270 on a square image are exact transposes in Pillow too; the general path below samples pixel
        // centres, which land exactly on source centres there as well, so no separate fast path is needed.
        int w = img.Width, h = img.Height;
        double cx = w / 2.0, cy = h / 2.0;
        double rad = -(angle * (Math.PI / 180.0));
        double a = Math.Round(Math.Cos(rad), 15), b = Math.Round(Math.Sin(rad), 15);
        double d = Math.Round(-Math.Sin(rad), 15), e = Math.Round(Math.Cos(rad), 15);
        double c = a * -cx + b * -cy, f = d * -cx + e * -cy;
        c += cx; f += cy;
        return Transform(img, [a, b, c, d, e, f], resample, fill);
    }

    static Rgb8Image Rotate180(Rgb8Image img)
    {
        int n = img.Width * img.Height;
        var s = img.Data; var o = new byte[s.Length];
        for (int i = 0; i < n; i++) { int j = n - 1 - i; o[3 * j] = s[3 * i]; o[3 * j + 1] = s[3 * i + 1]; o[3 * j + 2] = s[3 * i + 2]; }
        return new Rgb8Image(img.Width, img.Height, o);
    }

    static int Floor(double v) => v < 0.0 ? (int)Math.Floor(v) : (int)v;
    static int Clip(int v, int size) => v < 0 ? 0 : v < size ? v : size - 1;

    // Pillow's bilinear_filter32RGB: neighbours clamped in x and for the first row; a missing second row reuses
    // the first. The result is truncated to a byte (no rounding).
    static void Bilinear(byte[] s, int w, int h, double xin, double yin, Span<byte> px)
    {
        xin -= 0.5; yin -= 0.5;
        int x = Floor(xin), y = Floor(yin);
        double dx = xin - x, dy = yin - y;
        int r0 = Clip(y, h) * w, x0 = Clip(x, w), x1 = Clip(x + 1, w);
        bool hasRow1 = y + 1 >= 0 && y + 1 < h;
        int r1 = (y + 1) * w;
        for (int c = 0; c < 3; c++)
        {
            int p0 = s[(r0 + x0) * 3 + c], p1 = s[(r0 + x1) * 3 + c];
            double v1 = p0 + (p1 - p0) * dx, v2 = v1;
            if (hasRow1) { int q0 = s[(r1 + x0) * 3 + c], q1 = s[(r1 + x1) * 3 + c]; v2 = q0 + (q1 - q0) * dx; }
            v1 = v1 + (v2 - v1) * dy;
            px[c] = (byte)v1;
        }
    }

    // Pillow's cubic with a = -1 (not the -0.5 of its resize filters): p(d) = v2 + d(-v1+v3 + d(2(v1-v2)+v3-v4
    // + d(-v1+v2-v3+v4))). Only the first of the four rows is index-clamped; a row past an edge repeats the
    // previous row's value. Clipped to [0,255], then truncated.
    static double Cubic(double v1, double v2, double v3, double v4, double d)
    {
        double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
        return p1 + d * (p2 + d * (p3 + d * p4));
    }

    static void Bicubic(byte[] s, int w, int h, double xin, double yin, Span<byte> px)
    {
        xin -= 0.5; yin -= 0.5;
        int x = Floor(xin), y = Floor(yin);
        double dx = xin - x, dy = yin - y;
        x--; y--;
        int x0 = Clip(x, w), x1 = Clip(x + 1, w), x2 = Clip(x + 2, w), x3 = Clip(x + 3, w);
        for (int c = 0; c < 3; c++)
        {
            double Row(int r) => Cubic(s[(r * w + x0) * 3 + c], s[(r * w + x1) * 3 + c], s[(r * w + x2) * 3 + c], s[(r * w + x3) * 3 + c], dx);
            double v1 = Row(Clip(y, h));
            double v2 = y + 1 >= 0 && y + 1 < h ? Row(y + 1) : v1;
            double v3 = y + 2 >= 0 && y + 2 < h ? Row(y + 2) : v2;
            double v4 = y + 3 >= 0 && y + 3 < h ? Row(y + 3) : v3;
            double v = Cubic(v1, v2, v3, v4, dy);
            px[c] = v <= 0.0 ? (byte)0 : v >= 255.0 ? (byte)255 : (byte)v;
        }
    }
}
