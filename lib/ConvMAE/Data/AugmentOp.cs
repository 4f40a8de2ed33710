namespace ConvMAE.Data;

/// <summary>The ops of timm's RandAugment sets (<c>_RAND_TRANSFORMS</c> and <c>_RAND_INCREASING_TRANSFORMS</c>).</summary>
public enum AugmentOpKind
{
    AutoContrast, Equalize, Invert, Rotate,
    Posterize, PosterizeIncreasing, Solarize, SolarizeIncreasing, SolarizeAdd,
    Color, ColorIncreasing, Contrast, ContrastIncreasing, Brightness, BrightnessIncreasing,
    Sharpness, SharpnessIncreasing, ShearX, ShearY, TranslateXRel, TranslateYRel,
}

/// <summary>
/// One op of timm's <c>AugmentOp</c>: fires with probability <see cref="Prob"/>, draws its magnitude (fixed, or
/// Gaussian around <see cref="Magnitude"/> with <see cref="MagnitudeStd"/>, uniform on [0, M] if that is infinite),
/// clips it to [0, <see cref="MagnitudeMax"/> or 10], maps it to the op's argument, then applies it.
/// The draws come in timm's order: fire?, magnitude, sign (signed ops), filter (geometric ops, when random).
/// </summary>
public sealed class AugmentOp(AugmentOpKind kind, double magnitude, double prob = 0.5, double magnitudeStd = 0,
    double? magnitudeMax = null, AugmentHParams? hparams = null)
{
    /// <summary>timm's <c>_LEVEL_DENOM</c> (<c>_MAX_LEVEL</c> in 0.3.x): magnitudes are out of 10.</summary>
    public const double LevelDenom = 10.0;

    public AugmentOpKind Kind { get; } = kind;
    public double Magnitude { get; } = magnitude;
    public double Prob { get; } = prob;
    public double MagnitudeStd { get; } = magnitudeStd;
    public double? MagnitudeMax { get; } = magnitudeMax;
    public AugmentHParams HParams { get; } = hparams ?? new AugmentHParams();

    /// <summary>Applies the op, or returns null when its coin says no (the caller keeps the image).</summary>
    public Rgb8Image? Apply(Rgb8Image img, Random rng)
    {
        // timm: `if self.prob < 1.0 and random.random() > self.prob: return img`
        if (Prob < 1.0 && rng.NextDouble() > Prob) return null;
        double m = SampleMagnitude(rng);
        double arg = LevelToArg(Kind, m, rng, HParams.TranslatePct);
        return ApplyWithArg(img, arg, rng);
    }

    /// <summary>The magnitude for one call: noise (if any), then the clip to [0, mmax ?? 10].</summary>
    public double SampleMagnitude(Random rng)
    {
        double m = Magnitude;
        if (MagnitudeStd > 0)
            m = double.IsPositiveInfinity(MagnitudeStd) ? rng.Uniform(0, m) : rng.Gaussian(m, MagnitudeStd);
        return Math.Max(0.0, Math.Min(m, MagnitudeMax ?? LevelDenom));
    }

    /// <summary>With 50% chance, negate (timm: <c>-v if random.random() > 0.5 else v</c>).</summary>
    static double RandomlyNegate(double v, Random rng) => rng.NextDouble() > 0.5 ? -v : v;

    /// <summary>
    /// timm's <c>LEVEL_TO_ARG</c>: the op argument for a (clipped) magnitude. Signed ops draw their sign here.
    /// Ops without an argument return NaN. Integer arguments are truncated as Python's <c>int()</c> does.
    /// The min(…) caps and the 0.1 floor only matter above magnitude 10 (they come from newer timm, where
    /// <c>mmax</c> allows that; timm 0.3.2 could not exceed 10).
    /// </summary>
    public static double LevelToArg(AugmentOpKind kind, double level, Random rng, double translatePct = 0.45)
    {
        double r = level / LevelDenom;
        return kind switch
        {
            AugmentOpKind.AutoContrast or AugmentOpKind.Equalize or AugmentOpKind.Invert => double.NaN,
            AugmentOpKind.Rotate => RandomlyNegate(r * 30.0, rng),                                 // degrees, ±30
            AugmentOpKind.Posterize => (int)(r * 4),                                                // bits kept, 0..4
            AugmentOpKind.PosterizeIncreasing => 4 - (int)(r * 4),                                  // bits kept, 4..0
            AugmentOpKind.Solarize => Math.Min(256, (int)(r * 256)),                                // threshold 0..256
            AugmentOpKind.SolarizeIncreasing => 256 - Math.Min(256, (int)(r * 256)),               // threshold 256..0
            AugmentOpKind.SolarizeAdd => Math.Min(128, (int)(r * 110)),                             // added 0..110
            AugmentOpKind.Color or AugmentOpKind.Contrast or AugmentOpKind.Brightness or AugmentOpKind.Sharpness
                => r * 1.8 + 0.1,                                                                   // factor 0.1..1.9
            AugmentOpKind.ColorIncreasing or AugmentOpKind.ContrastIncreasing or AugmentOpKind.BrightnessIncreasing
                or AugmentOpKind.SharpnessIncreasing => Math.Max(0.1, 1.0 + RandomlyNegate(r * 0.9, rng)), // 1 ± 0.9
            AugmentOpKind.ShearX or AugmentOpKind.ShearY => RandomlyNegate(r * 0.3, rng),           // ±0.3
            AugmentOpKind.TranslateXRel or AugmentOpKind.TranslateYRel => RandomlyNegate(r * translatePct, rng),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    /// <summary>timm's <c>NAME_TO_OP</c>: applies this op's <see cref="Kind"/> with a given argument (NaN for none).</summary>
    public Rgb8Image ApplyWithArg(Rgb8Image img, double arg, Random rng)
    {
        switch (Kind)
        {
            case AugmentOpKind.AutoContrast: return PilOps.AutoContrast(img);
            case AugmentOpKind.Equalize: return PilOps.Equalize(img);
            case AugmentOpKind.Invert: return PilOps.Invert(img);
            case AugmentOpKind.Posterize or AugmentOpKind.PosterizeIncreasing: return PilOps.Posterize(img, (int)arg);
            case AugmentOpKind.Solarize or AugmentOpKind.SolarizeIncreasing: return PilOps.Solarize(img, (int)arg);
            case AugmentOpKind.SolarizeAdd: return PilOps.SolarizeAdd(img, (int)arg);
            case AugmentOpKind.Color or AugmentOpKind.ColorIncreasing: return PilEnhance.Color(img, arg);
            case AugmentOpKind.Contrast or AugmentOpKind.ContrastIncreasing: return PilEnhance.Contrast(img, arg);
            case AugmentOpKind.Brightness or AugmentOpKind.BrightnessIncreasing: return PilEnhance.Brightness(img, arg);
            case AugmentOpKind.Sharpness or AugmentOpKind.SharpnessIncreasing: return PilEnhance.Sharpness(img, arg);
        }
        // Geometric ops: timm's _check_args_tf picks the filter now, after the level draw.
        var filter = HParams.Interpolation ?? (rng.Next(2) == 0 ? PilResample.Bilinear : PilResample.Bicubic);
        var fill = HParams.Fill;
        return Kind switch
        {
            AugmentOpKind.Rotate => PilAffine.Rotate(img, arg, filter, fill),
            AugmentOpKind.ShearX => PilAffine.Transform(img, [1, arg, 0, 0, 1, 0], filter, fill),
            AugmentOpKind.ShearY => PilAffine.Transform(img, [1, 0, 0, arg, 1, 0], filter, fill),
            AugmentOpKind.TranslateXRel => PilAffine.Transform(img, [1, 0, arg * img.Width, 0, 1, 0], filter, fill),
            AugmentOpKind.TranslateYRel => PilAffine.Transform(img, [1, 0, 0, 0, 1, arg * img.Height], filter, fill),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
        };
    }

    public override string ToString() =>
        $"{Kind}(p={Prob}, m={Magnitude}, mstd={MagnitudeStd}{(MagnitudeMax is { } mx ? $", mmax={mx}" : "")})";
}
