using static TorchSharp.torch;

namespace ConvMAE.Data;

/// <summary>How erased pixels are filled (timm's <c>re_mode</c>).</summary>
public enum EraseMode
{
    /// <summary>Zero in every channel, i.e. the dataset mean once the tensor is normalised.</summary>
    Const,
    /// <summary>One standard-normal colour per box (one value per channel).</summary>
    Rand,
    /// <summary>Standard-normal noise per pixel and channel (ConvMAE/MAE finetuning: re_mode='pixel').</summary>
    Pixel,
}

/// <summary>An erased box, in pixels.</summary>
public readonly record struct EraseBox(int Top, int Left, int Height, int Width);

/// <summary>
/// timm's <c>RandomErasing</c>, applied after normalisation to a [C,H,W] image or each sample of a [B,C,H,W]
/// batch, in place. Per image: with probability <see cref="Probability"/>, pick a count in
/// [<see cref="MinCount"/>, <see cref="MaxCount"/>], and for each box try up to 10 times to draw
/// area ~ U(min_area, max_area)·H·W/count and aspect = exp(U(log min_aspect, log max_aspect)),
/// h = round(√(area·aspect)), w = round(√(area/aspect)) (Python rounding, half to even), keeping the first with
/// w &lt; W and h &lt; H at a uniform top-left. Note the count divides the area: several boxes share the budget.
/// Noise comes from a CPU <see cref="Generator"/> seeded from the given <see cref="Random"/>, so the result is
/// fixed by that Random alone (timm uses the global torch generator).
/// </summary>
public sealed class RandomErasing
{
    public double Probability { get; }
    public double MinArea { get; }
    public double MaxArea { get; }
    public (double Min, double Max) LogAspectRatio { get; }
    public EraseMode Mode { get; }
    public int MinCount { get; }
    public int MaxCount { get; }
    /// <summary>With more than one split, the first B/num_splits samples (the "clean" split of AugMix-style
    /// training) are left alone, as in timm.</summary>
    public int NumSplits { get; }

    public RandomErasing(double probability = 0.5, double minArea = 0.02, double maxArea = 1.0 / 3, double minAspect = 0.3,
        double? maxAspect = null, EraseMode mode = EraseMode.Const, int minCount = 1, int? maxCount = null, int numSplits = 0)
    {
        if (minAspect <= 0) throw new ArgumentOutOfRangeException(nameof(minAspect));
        Probability = probability; MinArea = minArea; MaxArea = maxArea;
        LogAspectRatio = (Math.Log(minAspect), Math.Log(maxAspect ?? 1 / minAspect));
        Mode = mode; MinCount = minCount; MaxCount = maxCount ?? minCount; NumSplits = numSplits;
        if (MaxCount < MinCount) throw new ArgumentException("max_count < min_count");
    }

    /// <summary>What timm's <c>create_transform</c> builds: <c>RandomErasing(re_prob, mode=re_mode, max_count=re_count)</c>.</summary>
    public static RandomErasing ForTimmTransform(double reProb, string reMode = "const", int reCount = 1, int reNumSplits = 0) =>
        new(reProb, mode: ParseMode(reMode), maxCount: reCount, numSplits: reNumSplits);

    /// <summary>timm's mode names: 'rand', 'pixel', and 'const' or empty for constant.</summary>
    public static EraseMode ParseMode(string mode) => mode.ToLowerInvariant() switch
    {
        "rand" => EraseMode.Rand,
        "pixel" => EraseMode.Pixel,
        "const" or "" => EraseMode.Const,
        _ => throw new ArgumentException($"unknown random-erasing mode '{mode}'"),
    };

    /// <summary>The boxes one image of size H x W gets (empty when the probability draw says no).</summary>
    public List<EraseBox> SampleBoxes(int imgH, int imgW, Random rng)
    {
        var boxes = new List<EraseBox>();
        if (rng.NextDouble() > Probability) return boxes;
        double area = (double)imgH * imgW;
        int count = MinCount == MaxCount ? MinCount : rng.RandIntInclusive(MinCount, MaxCount);
        for (int k = 0; k < count; k++)
        {
            for (int attempt = 0; attempt < 10; attempt++)
            {
                double targetArea = rng.Uniform(MinArea, MaxArea) * area / count;
                double aspect = Math.Exp(rng.Uniform(LogAspectRatio.Min, LogAspectRatio.Max));
                int h = (int)Math.Round(Math.Sqrt(targetArea * aspect), MidpointRounding.ToEven);
                int w = (int)Math.Round(Math.Sqrt(targetArea / aspect), MidpointRounding.ToEven);
                if (w < imgW && h < imgH)
                {
                    int top = rng.RandIntInclusive(0, imgH - h), left = rng.RandIntInclusive(0, imgW - w);
                    boxes.Add(new EraseBox(top, left, h, w));
                    break;
                }
            }
        }
        return boxes;
    }

    /// <summary>Erases one [C,H,W] image in place and returns the boxes it erased.</summary>
    public List<EraseBox> EraseImage(Tensor img, Random rng)
    {
        if (img.dim() != 3) throw new ArgumentException($"expected [C,H,W], got [{string.Join(",", img.shape)}]");
        int c = (int)img.shape[0], ih = (int)img.shape[1], iw = (int)img.shape[2];
        var boxes = SampleBoxes(ih, iw, rng);
        foreach (var b in boxes)
        {
            if (b.Height == 0 || b.Width == 0) continue;
            using var scope = NewDisposeScope();
            var region = img.narrow(1, b.Top, b.Height).narrow(2, b.Left, b.Width);
            if (Mode == EraseMode.Const) { region.zero_(); continue; }
            using var gen = new Generator((ulong)rng.NextInt64(), CPU);
            long[] shape = Mode == EraseMode.Pixel ? [c, b.Height, b.Width] : [c, 1, 1];
            var noise = randn(shape, dtype: ScalarType.Float32, generator: gen);
            region.copy_(noise.to(img.dtype, img.device)); // a [C,1,1] colour broadcasts over the box
        }
        return boxes;
    }

    /// <summary>Erases a [C,H,W] image or every sample of a [B,C,H,W] batch (one Random for all, drawn in
    /// sample order), in place; returns <paramref name="input"/>.</summary>
    public Tensor Apply(Tensor input, Random rng)
    {
        if (input.dim() == 3) { EraseImage(input, rng); return input; }
        CheckBatch(input);
        for (long i = BatchStart(input); i < input.shape[0]; i++)
        {
            using var sample = input[i];
            EraseImage(sample, rng);
        }
        return input;
    }

    /// <summary>Erases each sample of a [B,C,H,W] batch with its own Random (<c>rngs[i]</c> for sample i), in place,
    /// so a sample's erasing does not depend on how the batch was assembled.</summary>
    public Tensor Apply(Tensor batch, IReadOnlyList<Random> rngs)
    {
        CheckBatch(batch);
        if (rngs.Count != batch.shape[0]) throw new ArgumentException($"{rngs.Count} Randoms for a batch of {batch.shape[0]}");
        for (long i = BatchStart(batch); i < batch.shape[0]; i++)
        {
            using var sample = batch[i];
            EraseImage(sample, rngs[(int)i]);
        }
        return batch;
    }

    static void CheckBatch(Tensor t)
    {
        if (t.dim() != 4) throw new ArgumentException($"expected [C,H,W] or [B,C,H,W], got [{string.Join(",", t.shape)}]");
    }

    long BatchStart(Tensor batch) => NumSplits > 1 ? batch.shape[0] / NumSplits : 0;
}
