using static TorchSharp.torch;

namespace ConvMAE.Data;

/// <summary>How Mixup/CutMix parameters are shared (timm's <c>mode</c>).</summary>
public enum MixupMode
{
    /// <summary>One λ and one box for the whole batch, mixed with the batch reversed.</summary>
    Batch,
    /// <summary>One λ per pair (i, B-1-i), applied symmetrically to both.</summary>
    Pair,
    /// <summary>One λ per sample, each mixed with sample B-1-i.</summary>
    Elem,
}

/// <summary>
/// timm's <c>Mixup</c> (0.3.2 semantics): mixes a batch with itself reversed along the batch dimension, by mixup
/// (pixel blend with λ ~ Beta(α, α)) or CutMix (a box pasted from the partner, λ corrected to the kept area),
/// each batch/pair/element mixing with probability <see cref="Prob"/> and choosing CutMix with probability
/// <see cref="SwitchProb"/> when both are on. Targets are label-smoothed one-hots mixed with the same λ:
/// off = s/K, on = 1 - s + off, y = λ·onehot(y) + (1-λ)·onehot(flip(y)).
/// </summary>
public sealed class Mixup
{
    public double MixupAlpha { get; }
    public double CutmixAlpha { get; }
    public (double Min, double Max)? CutmixMinMax { get; }
    public double Prob { get; }
    public double SwitchProb { get; }
    public MixupMode Mode { get; }
    public bool CorrectLam { get; }
    public double LabelSmoothing { get; }
    public int NumClasses { get; }
    /// <summary>timm's <c>mixup_enabled</c>: a train loop may switch mixing off (e.g. for the last epochs).</summary>
    public bool Enabled { get; set; } = true;

    public Mixup(double mixupAlpha = 1.0, double cutmixAlpha = 0.0, (double Min, double Max)? cutmixMinMax = null,
        double prob = 1.0, double switchProb = 0.5, MixupMode mode = MixupMode.Batch, bool correctLam = true,
        double labelSmoothing = 0.1, int numClasses = 1000)
    {
        if (numClasses <= 0) throw new ArgumentOutOfRangeException(nameof(numClasses));
        MixupAlpha = mixupAlpha;
        // timm forces cutmix α = 1 when min/max boxes are given ("to keep logic simple & safe").
        CutmixAlpha = cutmixMinMax is null ? cutmixAlpha : 1.0;
        CutmixMinMax = cutmixMinMax;
        Prob = prob; SwitchProb = switchProb; Mode = mode; CorrectLam = correctLam;
        LabelSmoothing = labelSmoothing; NumClasses = numClasses;
    }

    /// <summary>main_finetune.py's <c>mixup_active</c>: mixup &gt; 0 or cutmix &gt; 0 or cutmix_minmax set
    /// (the last forces <see cref="CutmixAlpha"/> to 1, so two alphas cover it).</summary>
    public bool Active => MixupAlpha > 0 || CutmixAlpha > 0;

    /// <summary>
    /// Mixes <paramref name="images"/> [B,C,H,W] (float, B even) <b>in place</b>, as timm does, and returns that same
    /// tensor with the soft targets [B, NumClasses] (float32, on the labels' device) built from
    /// <paramref name="labels"/> [B] (int64 class indices).
    /// </summary>
    public (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor labels, Random rng)
    {
        if (images.dim() != 4) throw new ArgumentException($"expected [B,C,H,W], got [{string.Join(",", images.shape)}]");
        if (images.shape[0] % 2 != 0) throw new ArgumentException("Mixup needs an even batch size");
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0]) throw new ArgumentException("labels must be [B]");
        Tensor targets;
        if (Mode == MixupMode.Batch)
        {
            double lam = MixBatch(images, rng);
            targets = MixupTarget(labels, NumClasses, lam, LabelSmoothing);
        }
        else
        {
            float[] lams = Mode == MixupMode.Elem ? MixElem(images, rng) : MixPair(images, rng);
            using var lamT = tensor(lams, dtype: images.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32,
                device: labels.device).unsqueeze(1);
            targets = MixupTarget(labels, NumClasses, lamT, LabelSmoothing);
        }
        return (images, targets);
    }

    // timm's _params_per_batch: (λ, cutmix?) with λ = 1 meaning "leave the batch alone".
    (double Lam, bool Cutmix) ParamsPerBatch(Random rng)
    {
        if (!Enabled || !(rng.NextDouble() < Prob)) return (1.0, false);
        if (MixupAlpha > 0 && CutmixAlpha > 0)
        {
            bool cut = rng.NextDouble() < SwitchProb;
            return (cut ? rng.Beta(CutmixAlpha, CutmixAlpha) : rng.Beta(MixupAlpha, MixupAlpha), cut);
        }
        if (MixupAlpha > 0) return (rng.Beta(MixupAlpha, MixupAlpha), false);
        if (CutmixAlpha > 0) return (rng.Beta(CutmixAlpha, CutmixAlpha), true);
        throw new InvalidOperationException("Mixup needs mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax set");
    }

    // timm's _params_per_elem, drawing in NumPy's order: switch coins, both beta vectors, then the mix coins.
    (float[] Lam, bool[] Cutmix) ParamsPerElem(int n, Random rng)
    {
        var lam = Enumerable.Repeat(1f, n).ToArray();
        var cut = new bool[n];
        if (!Enabled) return (lam, cut);
        double[] lamMix;
        if (MixupAlpha > 0 && CutmixAlpha > 0)
        {
            for (int i = 0; i < n; i++) cut[i] = rng.NextDouble() < SwitchProb;
            var bc = Draw(n, () => rng.Beta(CutmixAlpha, CutmixAlpha));
            var bm = Draw(n, () => rng.Beta(MixupAlpha, MixupAlpha));
            lamMix = Enumerable.Range(0, n).Select(i => cut[i] ? bc[i] : bm[i]).ToArray();
        }
        else if (MixupAlpha > 0) lamMix = Draw(n, () => rng.Beta(MixupAlpha, MixupAlpha));
        else if (CutmixAlpha > 0) { Array.Fill(cut, true); lamMix = Draw(n, () => rng.Beta(CutmixAlpha, CutmixAlpha)); }
        else throw new InvalidOperationException("Mixup needs mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax set");
        for (int i = 0; i < n; i++) if (rng.NextDouble() < Prob) lam[i] = (float)lamMix[i];
        return (lam, cut);
    }

    static double[] Draw(int n, Func<double> f) { var a = new double[n]; for (int i = 0; i < n; i++) a[i] = f(); return a; }

    double MixBatch(Tensor x, Random rng)
    {
        var (lam, cutmix) = ParamsPerBatch(rng);
        if (lam == 1.0) return 1.0;
        using var scope = NewDisposeScope();
        if (cutmix)
        {
            (var b, lam) = CutmixBox.BBoxAndLam((int)x.shape[2], (int)x.shape[3], lam, rng, CutmixMinMax, CorrectLam);
            var region = x.narrow(2, b.Yl, b.Yh - b.Yl).narrow(3, b.Xl, b.Xh - b.Xl);
            region.copy_(region.flip(0)); // flip copies, so the source is the unmodified batch
        }
        else
        {
            var flipped = x.flip(0).mul_(1.0 - lam);
            x.mul_(lam).add_(flipped);
        }
        return lam;
    }

    float[] MixElem(Tensor x, Random rng)
    {
        int n = (int)x.shape[0];
        var (lam, cut) = ParamsPerElem(n, rng);
        using var scope = NewDisposeScope();
        var orig = x.clone();
        for (int i = 0; i < n; i++)
        {
            int j = n - i - 1;
            if (lam[i] == 1f) continue;
            if (cut[i]) lam[i] = (float)PasteBox(x[i], orig[j], x, lam[i], rng);
            else x[i].copy_(x[i] * lam[i] + orig[j] * (1f - lam[i]));
        }
        return lam;
    }

    float[] MixPair(Tensor x, Random rng)
    {
        int n = (int)x.shape[0], half = n / 2;
        var (lam, cut) = ParamsPerElem(half, rng);
        using var scope = NewDisposeScope();
        var orig = x.clone();
        for (int i = 0; i < half; i++)
        {
            int j = n - i - 1;
            if (lam[i] == 1f) continue;
            if (cut[i])
            {
                var (b, l) = CutmixBox.BBoxAndLam((int)x.shape[2], (int)x.shape[3], lam[i], rng, CutmixMinMax, CorrectLam);
                Region(x[i], b).copy_(Region(orig[j], b));
                Region(x[j], b).copy_(Region(orig[i], b));
                lam[i] = (float)l;
            }
            else
            {
                x[i].copy_(x[i] * lam[i] + orig[j] * (1f - lam[i]));
                x[j].copy_(x[j] * lam[i] + orig[i] * (1f - lam[i]));
            }
        }
        return lam.Concat(lam.Reverse()).ToArray();
    }

    double PasteBox(Tensor dst, Tensor src, Tensor batch, double lam, Random rng)
    {
        var (b, l) = CutmixBox.BBoxAndLam((int)batch.shape[2], (int)batch.shape[3], lam, rng, CutmixMinMax, CorrectLam);
        Region(dst, b).copy_(Region(src, b));
        return l;
    }

    static Tensor Region(Tensor img, CutmixBox b) => img.narrow(1, b.Yl, b.Yh - b.Yl).narrow(2, b.Xl, b.Xh - b.Xl);

    /// <summary>timm's <c>one_hot</c>: [B, K] filled with <paramref name="off"/>, <paramref name="on"/> at each label.</summary>
    public static Tensor OneHot(Tensor labels, int numClasses, double on = 1.0, double off = 0.0)
    {
        using var scope = NewDisposeScope();
        var idx = labels.to(ScalarType.Int64).view(-1, 1);
        var y = full(idx.shape[0], numClasses, off, dtype: ScalarType.Float32, device: labels.device);
        y.scatter_(1, idx, full_like(idx, on, dtype: ScalarType.Float32));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>timm's <c>mixup_target</c> for a batch-wide λ.</summary>
    public static Tensor MixupTarget(Tensor labels, int numClasses, double lam = 1.0, double smoothing = 0.0)
    {
        using var scope = NewDisposeScope();
        var (y1, y2) = SmoothedPair(labels, numClasses, smoothing);
        return (y1 * lam + y2 * (1.0 - lam)).MoveToOuterDisposeScope();
    }

    /// <summary>timm's <c>mixup_target</c> for per-sample λ ([B,1]).</summary>
    public static Tensor MixupTarget(Tensor labels, int numClasses, Tensor lam, double smoothing)
    {
        using var scope = NewDisposeScope();
        var (y1, y2) = SmoothedPair(labels, numClasses, smoothing);
        return (y1 * lam + y2 * (1.0 - lam)).MoveToOuterDisposeScope();
    }

    static (Tensor, Tensor) SmoothedPair(Tensor labels, int numClasses, double smoothing)
    {
        double off = smoothing / numClasses, on = 1.0 - smoothing + off;
        return (OneHot(labels, numClasses, on, off), OneHot(labels.flip(0), numClasses, on, off));
    }
}
