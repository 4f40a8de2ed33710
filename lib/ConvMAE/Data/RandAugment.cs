using System.Globalization;

namespace ConvMAE.Data;

/// <summary>
/// timm's RandAugment: each call picks <see cref="NumLayers"/> ops uniformly with replacement from the op set and
/// applies them in turn, each firing with its own probability. Built from timm's config strings
/// (<c>rand-m9-mstd0.5-inc1</c> in ConvMAE/MAE finetuning) by <see cref="Parse"/>.
/// </summary>
public sealed class RandAugment
{
    /// <summary>timm's <c>_RAND_TRANSFORMS</c>, in timm's order.</summary>
    public static readonly IReadOnlyList<AugmentOpKind> DefaultOps =
    [
        AugmentOpKind.AutoContrast, AugmentOpKind.Equalize, AugmentOpKind.Invert, AugmentOpKind.Rotate,
        AugmentOpKind.Posterize, AugmentOpKind.Solarize, AugmentOpKind.SolarizeAdd, AugmentOpKind.Color,
        AugmentOpKind.Contrast, AugmentOpKind.Brightness, AugmentOpKind.Sharpness, AugmentOpKind.ShearX,
        AugmentOpKind.ShearY, AugmentOpKind.TranslateXRel, AugmentOpKind.TranslateYRel,
    ];

    /// <summary>timm's <c>_RAND_INCREASING_TRANSFORMS</c>: the same with severity rising with magnitude.</summary>
    public static readonly IReadOnlyList<AugmentOpKind> IncreasingOps =
    [
        AugmentOpKind.AutoContrast, AugmentOpKind.Equalize, AugmentOpKind.Invert, AugmentOpKind.Rotate,
        AugmentOpKind.PosterizeIncreasing, AugmentOpKind.SolarizeIncreasing, AugmentOpKind.SolarizeAdd,
        AugmentOpKind.ColorIncreasing, AugmentOpKind.ContrastIncreasing, AugmentOpKind.BrightnessIncreasing,
        AugmentOpKind.SharpnessIncreasing, AugmentOpKind.ShearX, AugmentOpKind.ShearY,
        AugmentOpKind.TranslateXRel, AugmentOpKind.TranslateYRel,
    ];

    public IReadOnlyList<AugmentOp> Ops { get; }
    public int NumLayers { get; }
    public bool Increasing { get; }

    public RandAugment(int magnitude = 10, int numLayers = 2, double prob = 0.5, double magnitudeStd = 0,
        double? magnitudeMax = null, bool increasing = false, AugmentHParams? hparams = null)
    {
        if (numLayers < 0) throw new ArgumentOutOfRangeException(nameof(numLayers));
        hparams ??= new AugmentHParams();
        Increasing = increasing;
        NumLayers = numLayers;
        Ops = (increasing ? IncreasingOps : DefaultOps)
            .Select(k => new AugmentOp(k, magnitude, prob, magnitudeStd, magnitudeMax, hparams)).ToArray();
    }

    /// <summary>
    /// Parses timm's <c>rand-…</c> string. Sections after 'rand' are a key and a number, split at the first
    /// digit; sections with no digit are ignored, unknown keys throw. Keys: m (int magnitude, default 10),
    /// n (int layers, default 2), p (float per-op probability, default 0.5), mstd (float magnitude std, &gt; 100
    /// means uniform on [0, m]), mmax (int clip bound instead of 10), inc (increasing op set).
    /// <para>timm quirk kept: timm tests <c>bool(val)</c> on the digit <i>string</i>, which is true for 'inc0' as
    /// well, so any inc section selects the increasing set; only leaving inc out gives the default set.</para>
    /// timm 0.3.x's 'w' (weighted op choice) and newer timm's 't' (named op set) are not supported.
    /// </summary>
    public static RandAugment Parse(string spec, AugmentHParams? hparams = null)
    {
        var parts = spec.Split('-');
        if (parts[0] != "rand") throw new FormatException($"a RandAugment spec starts with 'rand', got '{spec}'");
        int magnitude = (int)AugmentOp.LevelDenom, numLayers = 2;
        double prob = 0.5, mstd = 0; double? mmax = null; bool increasing = false;
        var inv = CultureInfo.InvariantCulture;
        foreach (var c in parts.Skip(1))
        {
            int d = c.IndexOfAny("0123456789".ToCharArray());
            if (d < 0) continue; // timm: re.split gives one piece, section skipped
            string key = c[..d], val = c[d..];
            switch (key)
            {
                case "mstd":
                    mstd = double.Parse(val, inv);
                    if (mstd > 100) mstd = double.PositiveInfinity; // newer timm: uniform magnitude
                    break;
                case "mmax": mmax = int.Parse(val, inv); break;
                case "inc": increasing = true; break; // timm: bool(val) on a non-empty string, so inc0 too
                case "m": magnitude = int.Parse(val, inv); break;
                case "n": numLayers = int.Parse(val, inv); break;
                case "p": prob = double.Parse(val, inv); break;
                default: throw new FormatException($"unknown RandAugment config section '{c}' in '{spec}'");
            }
        }
        return new RandAugment(magnitude, numLayers, prob, mstd, mmax, increasing, hparams);
    }

    /// <summary>One RandAugment pass: all op choices are drawn first (NumPy's <c>np.random.choice</c> with
    /// replacement), then each chosen op runs. Returns a new image; the input is not modified.</summary>
    public Rgb8Image Apply(Rgb8Image img, Random rng)
    {
        var chosen = new AugmentOp[NumLayers];
        for (int i = 0; i < NumLayers; i++) chosen[i] = Ops[rng.Next(Ops.Count)];
        var cur = img;
        foreach (var op in chosen) cur = op.Apply(cur, rng) ?? cur;
        return ReferenceEquals(cur, img) ? img.Clone() : cur;
    }

    public override string ToString() => $"RandAugment(n={NumLayers}, ops=[{string.Join(", ", Ops)}])";
}
