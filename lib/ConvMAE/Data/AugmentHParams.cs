namespace ConvMAE.Data;

/// <summary>
/// The hparams timm hands its RandAugment ops: the fill colour of the geometric ops (<c>img_mean</c>), their
/// resampling filter (<c>interpolation</c>) and the relative translate range (<c>translate_pct</c>).
/// </summary>
public sealed record AugmentHParams
{
    /// <summary>timm's <c>_FILL</c>, used when no <c>img_mean</c> is given.</summary>
    public static readonly byte[] DefaultFill = [128, 128, 128];

    public static readonly double[] ImageNetMean = [0.485, 0.456, 0.406];
    public static readonly double[] ImageNetStd = [0.229, 0.224, 0.225];

    /// <summary>RGB fill for pixels a rotate/shear/translate uncovers.</summary>
    public byte[] Fill { get; init; } = DefaultFill;

    /// <summary>Fixed filter, or null for timm's default: bilinear or bicubic picked at random on each op call.</summary>
    public PilResample? Interpolation { get; init; }

    /// <summary>TranslateXRel/YRel reach this fraction of the side at magnitude 10 (timm default 0.45; AugMix uses 0.3).</summary>
    public double TranslatePct { get; init; } = 0.45;

    /// <summary>
    /// What timm's <c>transforms_imagenet_train</c> passes: <c>img_mean = min(255, round(255 * mean))</c>
    /// (Python's round, half to even: ImageNet gives 124, 116, 104), and the train interpolation unless it is
    /// 'random'. timm's <c>_pil_interp</c> maps every name other than bicubic/lanczos/hamming (so 'nearest' too)
    /// to bilinear; lanczos and hamming make Pillow's affine transform raise, so they are refused here.
    /// </summary>
    public static AugmentHParams ForTimmTransform(string interpolation, IReadOnlyList<double>? mean = null)
    {
        mean ??= ImageNetMean;
        if (mean.Count != 3) throw new ArgumentException("mean needs 3 channels");
        var fill = mean.Select(m => (byte)Math.Min(255, Math.Round(255 * m, MidpointRounding.ToEven))).ToArray();
        PilResample? interp = interpolation switch
        {
            "random" => null,
            "bicubic" => PilResample.Bicubic,
            "lanczos" or "hamming" => throw new NotSupportedException($"Pillow's affine transform does not take '{interpolation}'"),
            _ => PilResample.Bilinear,
        };
        return new AugmentHParams { Fill = fill, Interpolation = interp };
    }
}
