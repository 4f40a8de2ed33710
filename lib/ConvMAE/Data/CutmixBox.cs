namespace ConvMAE.Data;

/// <summary>A CutMix box as row/column ranges [Yl, Yh) x [Xl, Xh) (timm's <c>(yl, yh, xl, xh)</c>).</summary>
public readonly record struct CutmixBox(int Yl, int Yh, int Xl, int Xh)
{
    public int Area => (Yh - Yl) * (Xh - Xl);

    /// <summary>
    /// timm's <c>rand_bbox</c>: a box of (int(H·√(1-λ)), int(W·√(1-λ))) centred on a uniform point
    /// (kept <paramref name="margin"/> of the box size away from the border), clipped to the image.
    /// Quirk kept: the half-sides are <c>cut // 2</c> on both sides, so an odd side loses a pixel.
    /// Draws the centre row, then the centre column.
    /// </summary>
    public static CutmixBox RandBBox(int imgH, int imgW, double lam, Random rng, double margin = 0)
    {
        double ratio = Math.Sqrt(1 - lam);
        int cutH = (int)(imgH * ratio), cutW = (int)(imgW * ratio);
        int marginY = (int)(margin * cutH), marginX = (int)(margin * cutW);
        int cy = rng.RandIntExclusive(marginY, imgH - marginY);
        int cx = rng.RandIntExclusive(marginX, imgW - marginX);
        return new CutmixBox(
            Math.Clamp(cy - cutH / 2, 0, imgH), Math.Clamp(cy + cutH / 2, 0, imgH),
            Math.Clamp(cx - cutW / 2, 0, imgW), Math.Clamp(cx + cutW / 2, 0, imgW));
    }

    /// <summary>
    /// timm's <c>rand_bbox_minmax</c>: side lengths uniform in [int(side·min), int(side·max)) (NumPy's exclusive
    /// high), then a uniform top-left that keeps the box inside. Draws height, width, top, left in that order.
    /// </summary>
    public static CutmixBox RandBBoxMinMax(int imgH, int imgW, (double Min, double Max) minmax, Random rng)
    {
        int cutH = rng.RandIntExclusive((int)(imgH * minmax.Min), (int)(imgH * minmax.Max));
        int cutW = rng.RandIntExclusive((int)(imgW * minmax.Min), (int)(imgW * minmax.Max));
        int yl = rng.RandIntExclusive(0, imgH - cutH), xl = rng.RandIntExclusive(0, imgW - cutW);
        return new CutmixBox(yl, yl + cutH, xl, xl + cutW);
    }

    /// <summary>
    /// timm's <c>cutmix_bbox_and_lam</c>: the box, and λ recomputed as the kept fraction 1 - area/(H·W) when
    /// <paramref name="correctLam"/> is set or min/max boxes are used (their λ is otherwise meaningless).
    /// </summary>
    public static (CutmixBox Box, double Lam) BBoxAndLam(int imgH, int imgW, double lam, Random rng,
        (double Min, double Max)? ratioMinMax = null, bool correctLam = true)
    {
        var box = ratioMinMax is { } mm ? RandBBoxMinMax(imgH, imgW, mm, rng) : RandBBox(imgH, imgW, lam, rng);
        if (correctLam || ratioMinMax is not null) lam = 1.0 - box.Area / (double)(imgH * imgW);
        return (box, lam);
    }
}
