// data-prep compiles this file too (its generator rasterises polygons exactly as COCO readers will) under its own
// namespace, so that assemblies referencing both the kit and data-prep see two distinct types.
#if CONVMAE_DATAPREP
namespace ConvMAE.DataPrep.Coco;
#else
namespace ConvMAE.Data.Coco;
#endif

/// <summary>
/// COCO's run-length mask code, reproducing pycocotools' maskApi.c operation for operation so that areas, boxes
/// and IoUs agree with COCOeval to the last bit. A mask of <c>Height</c>×<c>Width</c> pixels is read in column-major
/// (Fortran) order; <c>Counts</c> alternates runs of 0s and 1s, starting with 0s (the first run may be empty).
/// Counts are unsigned 32-bit as in the C code (wrap-around included).
/// </summary>
public sealed class Rle
{
    public int Height { get; }
    public int Width { get; }
    public uint[] Counts { get; }

    public Rle(int height, int width, uint[] counts)
    {
        if (height < 0 || width < 0) throw new ArgumentException($"RLE size [{height}, {width}] is negative");
        Height = height; Width = width; Counts = counts;
    }

    /// <summary>Encodes a mask given row-major as [H, W] bytes (any non-zero is foreground).</summary>
    public static Rle Encode(ReadOnlySpan<byte> rowMajor, int height, int width)
    {
        if (rowMajor.Length != height * width) throw new ArgumentException($"mask has {rowMajor.Length} pixels, expected {height}x{width}");
        var counts = new List<uint>();
        byte previous = 0; uint run = 0;
        for (int x = 0; x < width; x++)
            for (int y = 0; y < height; y++)
            {
                byte v = rowMajor[y * width + x] != 0 ? (byte)1 : (byte)0;
                if (v != previous) { counts.Add(run); run = 0; previous = v; }
                run++;
            }
        counts.Add(run);
        return new Rle(height, width, counts.ToArray());
    }

    /// <summary>The mask as row-major [H, W] bytes of 0/1.</summary>
    public byte[] Decode()
    {
        var mask = new byte[Height * Width];
        long p = 0; byte v = 0;
        foreach (var c in Counts)
        {
            for (uint k = 0; k < c && p < mask.LongLength; k++, p++)
                mask[(p % Height) * Width + p / Height] = v;
            v ^= 1;
        }
        return mask;
    }

    /// <summary>Foreground pixel count (rleArea: the sum of the odd runs).</summary>
    public uint Area()
    {
        uint a = 0;
        for (int j = 1; j < Counts.Length; j += 2) a += Counts[j];
        return a;
    }

    /// <summary>[x, y, w, h] as rleToBbox computes it. Quirk kept: when one foreground run crosses a column
    /// boundary the box's y-range becomes the whole image height.</summary>
    public double[] ToBbox()
    {
        uint h = (uint)Height, w = (uint)Width;
        int m = Counts.Length / 2 * 2;
        if (m == 0) return [0, 0, 0, 0];
        uint xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
        for (int j = 0; j < m; j++)
        {
            cc += Counts[j];
            uint t = cc - (uint)(j % 2), y = t % h, x = (t - y) / h;
            if (j % 2 == 0) xp = x;
            else if (xp < x) { ys = 0; ye = h - 1; }
            xs = Math.Min(xs, x); xe = Math.Max(xe, x); ys = Math.Min(ys, y); ye = Math.Max(ye, y);
        }
        return [xs, ys, xe - xs + 1, ye - ys + 1];
    }

    /// <summary>Union (or intersection) of masks of one size (rleMerge). Masks of differing sizes give an empty 0×0 RLE, as in C.</summary>
    public static Rle Merge(IReadOnlyList<Rle> rles, bool intersect = false)
    {
        if (rles.Count == 0) return new Rle(0, 0, []);
        int h = rles[0].Height, w = rles[0].Width;
        if (rles.Count == 1) return new Rle(h, w, (uint[])rles[0].Counts.Clone());
        var cnts = (uint[])rles[0].Counts.Clone();
        for (int i = 1; i < rles.Count; i++)
        {
            var b = rles[i];
            if (b.Height != h || b.Width != w) return new Rle(0, 0, []);
            var a = cnts;
            var output = new List<uint>(a.Length + b.Counts.Length);
            uint ca = a[0], cb = b.Counts[0], cc = 0, ct = 1;
            bool v = false, va = false, vb = false;
            int ia = 1, ib = 1;
            while (ct > 0)
            {
                uint c = Math.Min(ca, cb); cc += c; ct = 0;
                ca -= c; if (ca == 0 && ia < a.Length) { ca = a[ia++]; va = !va; } ct += ca;
                cb -= c; if (cb == 0 && ib < b.Counts.Length) { cb = b.Counts[ib++]; vb = !vb; } ct += cb;
                bool vp = v; v = intersect ? va && vb : va || vb;
                if (v != vp || ct == 0) { output.Add(cc); cc = 0; }
            }
            cnts = output.ToArray();
        }
        return new Rle(h, w, cnts);
    }

    /// <summary>IoU matrix [dt, gt] as rleIou: boxes first (zero box overlap means zero), then exact pixel counts; for a
    /// crowd ground truth the union is the detection's own area; differing image sizes give -1.</summary>
    public static double[,] Iou(IReadOnlyList<Rle> dt, IReadOnlyList<Rle> gt, IReadOnlyList<bool> isCrowd)
    {
        var iou = BoxIou(dt.Select(d => d.ToBbox()).ToList(), gt.Select(g => g.ToBbox()).ToList(), isCrowd);
        for (int g = 0; g < gt.Count; g++)
            for (int d = 0; d < dt.Count; d++)
            {
                if (!(iou[d, g] > 0)) continue;
                var A = dt[d]; var B = gt[g];
                if (A.Height != B.Height || A.Width != B.Width) { iou[d, g] = -1; continue; }
                uint ca = A.Counts[0], cb = B.Counts[0], ct = 1, inter = 0, union = 0;
                bool va = false, vb = false; int ia = 1, ib = 1;
                while (ct > 0)
                {
                    uint c = Math.Min(ca, cb);
                    if (va || vb) { union += c; if (va && vb) inter += c; }
                    ct = 0;
                    ca -= c; if (ca == 0 && ia < A.Counts.Length) { ca = A.Counts[ia++]; va = !va; } ct += ca;
                    cb -= c; if (cb == 0 && ib < B.Counts.Length) { cb = B.Counts[ib++]; vb = !vb; } ct += cb;
                }
                if (inter == 0) union = 1; else if (isCrowd[g]) union = A.Area();
                iou[d, g] = (double)inter / union;
            }
        return iou;
    }

    /// <summary>IoU matrix [dt, gt] of [x, y, w, h] boxes as bbIou; a crowd ground truth divides by the detection's area.</summary>
    public static double[,] BoxIou(IReadOnlyList<double[]> dt, IReadOnlyList<double[]> gt, IReadOnlyList<bool> isCrowd)
    {
        var o = new double[dt.Count, gt.Count];
        for (int g = 0; g < gt.Count; g++)
        {
            var G = gt[g]; double ga = G[2] * G[3];
            for (int d = 0; d < dt.Count; d++)
            {
                var D = dt[d]; double da = D[2] * D[3];
                double w = Math.Min(D[2] + D[0], G[2] + G[0]) - Math.Max(D[0], G[0]); if (w <= 0) continue;
                double h = Math.Min(D[3] + D[1], G[3] + G[1]) - Math.Max(D[1], G[1]); if (h <= 0) continue;
                double i = w * h, u = isCrowd[g] ? da : da + ga - i;
                o[d, g] = i / u;
            }
        }
        return o;
    }

    /// <summary>A rectangle [x, y, w, h] rasterised as its 4-corner polygon (rleFrBbox).</summary>
    public static Rle FromBbox(ReadOnlySpan<double> bb, int height, int width)
    {
        double xs = bb[0], xe = xs + bb[2], ys = bb[1], ye = ys + bb[3];
        return FromPolygon([xs, ys, xs, ye, xe, ye, xe, ys], height, width);
    }

    /// <summary>
    /// Rasterises one polygon [x0, y0, x1, y1, ...] as rleFrPoly: the outline is traced on a 5× finer grid, its
    /// crossings of pixel-centre columns become y-boundaries, and a pixel is inside when its centre lies between
    /// boundaries. Coordinates are truncated toward zero after +0.5, as C's (int) cast does, so points left of or
    /// above the image behave as in pycocotools.
    /// </summary>
    public static Rle FromPolygon(ReadOnlySpan<double> xy, int height, int width)
    {
        const double scale = 5;
        int k = xy.Length / 2;
        var x = new int[k + 1]; var y = new int[k + 1];
        for (int j = 0; j < k; j++) x[j] = (int)(scale * xy[j * 2] + .5);
        for (int j = 0; j < k; j++) y[j] = (int)(scale * xy[j * 2 + 1] + .5);
        if (k == 0) return new Rle(height, width, [(uint)(height * width)]);   // C reads x[0] uninitialised; an empty mask is the only sane answer
        x[k] = x[0]; y[k] = y[0];
        var u = new List<int>(); var v = new List<int>();
        for (int j = 0; j < k; j++)
        {
            int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
            int dx = Math.Abs(xe - xs), dy = Math.Abs(ys - ye);
            bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
            if (flip) { (xs, xe) = (xe, xs); (ys, ye) = (ye, ys); }
            double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
            if (dx >= dy)
                for (int d = 0; d <= dx; d++) { int t = flip ? dx - d : d; u.Add(t + xs); v.Add((int)(ys + s * t + .5)); }
            else
                for (int d = 0; d <= dy; d++) { int t = flip ? dy - d : d; v.Add(t + ys); u.Add((int)(xs + s * t + .5)); }
        }
        // Points where the fine outline crosses a column of pixel centres; y rounded up to the next pixel.
        var bx = new List<int>(); var by = new List<int>();
        for (int j = 1; j < u.Count; j++)
        {
            if (u[j] == u[j - 1]) continue;
            double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            xd = (xd + .5) / scale - .5;
            if (Math.Floor(xd) != xd || xd < 0 || xd > width - 1) continue;
            double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
            yd = (yd + .5) / scale - .5;
            if (yd < 0) yd = 0; else if (yd > height) yd = height;
            yd = Math.Ceiling(yd);
            bx.Add((int)xd); by.Add((int)yd);
        }
        var a = new uint[bx.Count + 1];
        for (int j = 0; j < bx.Count; j++) a[j] = (uint)(bx[j] * height + by[j]);
        a[^1] = (uint)(height * width);
        Array.Sort(a);
        uint p = 0;
        for (int j = 0; j < a.Length; j++) { uint t = a[j]; a[j] -= p; p = t; }
        // Zero-length runs merge their neighbours.
        var b = new List<uint>(a.Length) { a[0] };
        for (int j = 1; j < a.Length;)
            if (a[j] > 0) b.Add(a[j++]);
            else { j++; if (j < a.Length) b[^1] += a[j++]; }
        return new Rle(height, width, b.ToArray());
    }

    /// <summary>COCO's compressed string form (rleToString): LEB128-like, 5 bits per char offset by 48, each count
    /// stored as the difference from the count two before it, but only from the 4th count on (the C code's i&gt;2).</summary>
    public string ToCompressedString()
    {
        var s = new System.Text.StringBuilder(Counts.Length * 2);
        for (int i = 0; i < Counts.Length; i++)
        {
            long x = Counts[i];
            if (i > 2) x -= Counts[i - 2];
            bool more = true;
            while (more)
            {
                int c = (int)(x & 0x1f);
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) c |= 0x20;
                s.Append((char)(c + 48));
            }
        }
        return s.ToString();
    }

    /// <summary>Parses the compressed string form (rleFrString). Throws on characters outside COCO's alphabet.</summary>
    public static Rle FromCompressedString(string s, int height, int width)
    {
        var cnts = new List<uint>();
        int p = 0;
        while (p < s.Length)
        {
            long x = 0; int k = 0; bool more = true;
            while (more)
            {
                if (p >= s.Length) throw new FormatException("compressed RLE string ends inside a count");
                int c = s[p] - 48;
                if (c < 0 || c > 63) throw new FormatException($"compressed RLE string has character '{s[p]}' outside COCO's alphabet");
                x |= (long)(c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0; p++; k++;
                if (!more && (c & 0x10) != 0) x |= -1L << (5 * k);
            }
            if (cnts.Count > 2) x += cnts[^2];
            cnts.Add((uint)x);
        }
        return new Rle(height, width, cnts.ToArray());
    }
}
