using ConvMAE.Data;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Augment;

/// <summary>timm's Mixup/CutMix: smoothed targets, λ read back from the mixed pixels, boxes, modes.</summary>
public class MixupTests
{
    // Sample i is the constant 10·i, so a mixed pixel tells which samples went into it and in what share.
    static Tensor Constants(int b, int h = 20, int w = 20) =>
        (arange(b, dtype: ScalarType.Float32) * 10f).view(b, 1, 1, 1).expand(b, 3, h, w).contiguous();

    static readonly long[] Labels = [3, 0, 2, 1];

    [Fact]
    public void Targets_are_smoothed_one_hots_with_exact_values()
    {
        using var labels = tensor(Labels);
        using var t = Mixup.MixupTarget(labels, 5, lam: 1.0, smoothing: 0.1);
        var a = t.data<float>().ToArray();
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 5; k++)
                Assert.Equal(k == Labels[i] ? (float)(1 - 0.1 + 0.02) : 0.02f, a[i * 5 + k]);
        // λ = 0.25: row 0 mixes its label 3 (weight .25) with the flipped batch's label 1 (weight .75).
        using var m = Mixup.MixupTarget(labels, 5, lam: 0.25, smoothing: 0.1);
        Assert.Equal(0.25 * 0.92 + 0.75 * 0.02, m[0, 3].item<float>(), 6);
        Assert.Equal(0.75 * 0.92 + 0.25 * 0.02, m[0, 1].item<float>(), 6);
        Assert.Equal(0.02, m[0, 0].item<float>(), 6);
    }

    [Fact]
    public void Batch_mixup_blends_with_the_reversed_batch_and_targets_carry_the_same_lambda()
    {
        var mix = new Mixup(mixupAlpha: 0.8, cutmixAlpha: 0, prob: 1.0, labelSmoothing: 0.1, numClasses: 4);
        for (int seed = 0; seed < 5; seed++)
        {
            using var x = Constants(4);
            using var labels = tensor(Labels);
            var (img, y) = mix.Apply(x, labels, new Random(seed));
            Assert.Same(x, img); // in place, like timm
            // sample 0 = λ·0 + (1-λ)·30
            double lam = 1 - img[0, 0, 0, 0].item<float>() / 30.0;
            Assert.InRange(lam, 0, 1);
            Assert.Equal(lam * 10 + (1 - lam) * 20, img[1, 2, 5, 5].item<float>(), 3);
            Assert.Equal(lam * (0.9 + 0.025) + (1 - lam) * 0.025, y[0, 3].item<float>(), tolerance: 2e-5);
            Assert.Equal((1 - lam) * (0.9 + 0.025) + lam * 0.025, y[0, 1].item<float>(), tolerance: 2e-5);
            using var sums = y.sum(1);
            Assert.All(sums.data<float>().ToArray(), s => Assert.Equal(1f, s, tolerance: 2e-6f));
            y.Dispose();
        }
    }

    [Fact]
    public void Batch_cutmix_lambda_is_the_kept_fraction_of_pixels()
    {
        var mix = new Mixup(mixupAlpha: 0, cutmixAlpha: 1.0, prob: 1.0, labelSmoothing: 0.1, numClasses: 4);
        int boxes = 0;
        for (int seed = 0; seed < 20; seed++)
        {
            using var x = Constants(4, 24, 30);
            using var labels = tensor(Labels);
            var (img, y) = mix.Apply(x, labels, new Random(seed));
            for (int i = 0; i < 4; i++)
            {
                double kept = img[i].eq(10f * i).sum().item<long>() / (3.0 * 24 * 30);
                double pasted = img[i].eq(10f * (3 - i)).sum().item<long>() / (3.0 * 24 * 30);
                Assert.Equal(1.0, kept + pasted, 9);
                // target on the own label: λ·on + (1-λ)·off, so λ = (t - off) / (on - off)
                double lam = (y[i, Labels[i]].item<float>() - 0.025) / 0.9;
                Assert.Equal(kept, lam, tolerance: 2e-5);
            }
            if (img[0].eq(30f).any().item<bool>()) boxes++;
            y.Dispose();
        }
        Assert.True(boxes >= 15, $"only {boxes} of 20 batches got a non-empty box");
    }

    [Fact]
    public void Rand_bbox_centres_a_box_of_side_sqrt_one_minus_lambda_and_corrects_lambda()
    {
        // 10x10, λ = 0.75: cut = int(10·0.5) = 5, half = 5 // 2 = 2. Centre (row 2, col 8):
        // rows [0, 4), cols [6, 10) (clipped): 16 pixels, so λ becomes 1 - 16/100 = 0.84.
        var (box, lam) = CutmixBox.BBoxAndLam(10, 10, 0.75, new ScriptedRandom(ints: [2, 8]));
        Assert.Equal(new CutmixBox(0, 4, 6, 10), box);
        Assert.Equal(0.84, lam, 12);
        // Without correction λ stays as drawn.
        var (_, raw) = CutmixBox.BBoxAndLam(10, 10, 0.75, new ScriptedRandom(ints: [5, 5]), correctLam: false);
        Assert.Equal(0.75, raw);
        // Odd sides lose a pixel (cut 5 → 4 wide even when unclipped).
        Assert.Equal(new CutmixBox(3, 7, 3, 7), CutmixBox.RandBBox(10, 10, 0.75, new ScriptedRandom(ints: [5, 5])));
    }

    [Fact]
    public void Rand_bbox_minmax_draws_sides_in_range_and_always_corrects_lambda()
    {
        // 20x40, minmax (0.2, 0.8): height in [4, 16), width in [8, 32); then top in [0, 20-h), left in [0, 40-w).
        var (box, lam) = CutmixBox.BBoxAndLam(20, 40, 0.3, new ScriptedRandom(ints: [10, 20, 3, 7]), (0.2, 0.8), correctLam: false);
        Assert.Equal(new CutmixBox(3, 13, 7, 27), box);
        Assert.Equal(1 - 200 / 800.0, lam, 12);
        var rng = new Random(1);
        for (int i = 0; i < 500; i++)
        {
            var b = CutmixBox.RandBBoxMinMax(20, 40, (0.2, 0.8), rng);
            Assert.InRange(b.Yh - b.Yl, 4, 15);
            Assert.InRange(b.Xh - b.Xl, 8, 31);
            Assert.True(b.Yl >= 0 && b.Yh <= 20 && b.Xl >= 0 && b.Xh <= 40);
        }
    }

    [Fact]
    public void Switch_prob_and_prob_decide_which_mix_runs()
    {
        var mix = new Mixup(mixupAlpha: 0.8, cutmixAlpha: 1.0, prob: 0.5, switchProb: 0.5, numClasses: 4);
        var rng = new Random(21);
        int none = 0, blend = 0, cut = 0;
        for (int i = 0; i < 600; i++)
        {
            using var x = Constants(2, 8, 8);
            using var labels = tensor(new long[] { 0, 1 });
            var (img, y) = mix.Apply(x, labels, rng);
            y.Dispose();
            float v = img[0, 0, 0, 0].item<float>();
            bool uniform = img[0].eq(v).all().item<bool>();
            if (uniform && v == 0f) none++;          // untouched (or an empty box)
            else if (uniform) blend++;               // a blend keeps the sample constant
            else cut++;                              // a box leaves two values
        }
        Assert.InRange(none, 250, 350);
        Assert.InRange(blend, 120, 180);
        Assert.InRange(cut, 110, 180);
    }

    [Fact]
    public void Elem_and_pair_modes_mix_per_sample_with_matching_targets()
    {
        foreach (var mode in new[] { MixupMode.Elem, MixupMode.Pair })
        {
            var mix = new Mixup(mixupAlpha: 1.0, cutmixAlpha: 0, prob: 1.0, mode: mode, labelSmoothing: 0, numClasses: 4);
            using var x = Constants(4);
            using var labels = tensor(Labels);
            var (img, y) = mix.Apply(x, labels, new Random(8));
            var lams = new double[4];
            for (int i = 0; i < 4; i++)
            {
                int j = 3 - i;
                lams[i] = (img[i, 0, 0, 0].item<float>() - 10.0 * j) / (10.0 * i - 10.0 * j);
                Assert.Equal(lams[i], y[i, Labels[i]].item<float>(), 4);
                Assert.Equal(1 - lams[i], y[i, Labels[j]].item<float>(), 4);
            }
            if (mode == MixupMode.Pair) { Assert.Equal(lams[0], lams[3], 4); Assert.Equal(lams[1], lams[2], 4); }
            else Assert.NotEqual(Math.Round(lams[0], 4), Math.Round(lams[3], 4));
            y.Dispose();
        }
    }

    [Fact]
    public void Active_follows_main_finetune_and_odd_batches_are_refused()
    {
        Assert.False(new Mixup(0, 0).Active);
        Assert.True(new Mixup(0.8, 0).Active);
        Assert.True(new Mixup(0, 1.0).Active);
        var minmax = new Mixup(0, 0, cutmixMinMax: (0.2, 0.8));
        Assert.True(minmax.Active);
        Assert.Equal(1.0, minmax.CutmixAlpha); // timm forces α = 1 with min/max boxes
        using var x = Constants(3);
        using var labels = tensor(new long[] { 0, 1, 2 });
        Assert.Throws<ArgumentException>(() => new Mixup(0.8).Apply(x, labels, new Random(1)));
    }

    [Fact]
    public void Disabled_mixup_leaves_images_and_gives_plain_smoothed_targets()
    {
        var mix = new Mixup(0.8, 1.0, numClasses: 4) { Enabled = false };
        using var x = Constants(4);
        using var before = x.clone();
        using var labels = tensor(Labels);
        var (_, y) = mix.Apply(x, labels, new ScriptedRandom()); // no draws at all
        Assert.True(x.eq(before).all().item<bool>());
        Assert.Equal(0.925f, y[0, 3].item<float>());
        y.Dispose();
    }

    [Fact]
    public void Beta_draws_have_the_right_mean_and_variance()
    {
        var rng = new Random(2);
        foreach (var (a, b) in new[] { (0.8, 0.8), (1.0, 1.0), (0.3, 2.0) })
        {
            var v = Enumerable.Range(0, 40000).Select(_ => rng.Beta(a, b)).ToArray();
            double mean = v.Average(), var_ = v.Select(t => (t - mean) * (t - mean)).Average();
            Assert.InRange(mean, a / (a + b) - 0.01, a / (a + b) + 0.01);
            double expect = a * b / ((a + b) * (a + b) * (a + b + 1));
            Assert.InRange(var_, expect * 0.95, expect * 1.05);
            Assert.All(v, t => Assert.InRange(t, 0, 1));
        }
    }
}
