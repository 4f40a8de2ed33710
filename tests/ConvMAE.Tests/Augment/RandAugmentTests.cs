using ConvMAE.Data;
using Xunit;

namespace ConvMAE.Tests.Augment;

/// <summary>timm's RandAugment config strings, magnitude→argument mappings, magnitude noise and op choice.</summary>
public class RandAugmentTests
{
    [Fact]
    public void Parse_of_the_finetuning_spec_gives_15_increasing_ops_at_m9_with_std_half()
    {
        var ra = RandAugment.Parse("rand-m9-mstd0.5-inc1");
        Assert.True(ra.Increasing);
        Assert.Equal(2, ra.NumLayers);
        Assert.Equal(
        [
            AugmentOpKind.AutoContrast, AugmentOpKind.Equalize, AugmentOpKind.Invert, AugmentOpKind.Rotate,
            AugmentOpKind.PosterizeIncreasing, AugmentOpKind.SolarizeIncreasing, AugmentOpKind.SolarizeAdd,
            AugmentOpKind.ColorIncreasing, AugmentOpKind.ContrastIncreasing, AugmentOpKind.BrightnessIncreasing,
            AugmentOpKind.SharpnessIncreasing, AugmentOpKind.ShearX, AugmentOpKind.ShearY,
            AugmentOpKind.TranslateXRel, AugmentOpKind.TranslateYRel,
        ], ra.Ops.Select(o => o.Kind));
        Assert.All(ra.Ops, o =>
        {
            Assert.Equal(9, o.Magnitude);
            Assert.Equal(0.5, o.MagnitudeStd);
            Assert.Equal(0.5, o.Prob);
            Assert.Null(o.MagnitudeMax);
        });
    }

    [Fact]
    public void Parse_reads_every_key_and_keeps_timms_defaults()
    {
        var d = RandAugment.Parse("rand");
        Assert.False(d.Increasing);
        Assert.Equal(2, d.NumLayers);
        Assert.Equal(RandAugment.DefaultOps, d.Ops.Select(o => o.Kind));
        Assert.All(d.Ops, o => { Assert.Equal(10, o.Magnitude); Assert.Equal(0, o.MagnitudeStd); Assert.Equal(0.5, o.Prob); });

        var r = RandAugment.Parse("rand-n3-m7-p0.8-mmax12-mstd101-foo");
        Assert.Equal(3, r.NumLayers);
        Assert.All(r.Ops, o =>
        {
            Assert.Equal(7, o.Magnitude);
            Assert.Equal(0.8, o.Prob);
            Assert.Equal(12, o.MagnitudeMax);
            Assert.True(double.IsPositiveInfinity(o.MagnitudeStd)); // mstd > 100: uniform magnitude
        });
        Assert.False(r.Increasing);
    }

    [Fact]
    public void Parse_keeps_timms_inc0_quirk_and_rejects_unknown_keys()
    {
        // timm tests bool('0'), which is True: inc0 selects the increasing set as well.
        Assert.True(RandAugment.Parse("rand-m9-inc0").Increasing);
        Assert.False(RandAugment.Parse("rand-m9").Increasing);
        Assert.Throws<FormatException>(() => RandAugment.Parse("rand-q5"));
        Assert.Throws<FormatException>(() => RandAugment.Parse("rand-w0"));
        Assert.Throws<FormatException>(() => RandAugment.Parse("augmix-m5"));
        Assert.Throws<FormatException>(() => RandAugment.Parse("rand-m9.5"));
    }

    [Fact]
    public void Level_to_arg_at_magnitude_9_matches_timms_tables()
    {
        var none = new ScriptedRandom();
        Assert.Equal(3, AugmentOp.LevelToArg(AugmentOpKind.Posterize, 9, none));          // int(3.6)
        Assert.Equal(1, AugmentOp.LevelToArg(AugmentOpKind.PosterizeIncreasing, 9, none)); // 4 - 3
        Assert.Equal(230, AugmentOp.LevelToArg(AugmentOpKind.Solarize, 9, none));         // int(230.4)
        Assert.Equal(26, AugmentOp.LevelToArg(AugmentOpKind.SolarizeIncreasing, 9, none)); // 256 - 230
        Assert.Equal(99, AugmentOp.LevelToArg(AugmentOpKind.SolarizeAdd, 9, none));
        Assert.Equal(1.72, AugmentOp.LevelToArg(AugmentOpKind.Contrast, 9, none), 12);   // 0.9·1.8 + 0.1
        Assert.True(double.IsNaN(AugmentOp.LevelToArg(AugmentOpKind.Equalize, 9, none)));
        Assert.Equal(0, AugmentOp.LevelToArg(AugmentOpKind.PosterizeIncreasing, 10, none)); // all bits gone
        Assert.Equal(0, AugmentOp.LevelToArg(AugmentOpKind.SolarizeIncreasing, 10, none));  // invert everything

        // Signed ops negate when random() > 0.5.
        var signs = new ScriptedRandom([0.7, 0.3, 0.9, 0.2, 0.51, 0.5]);
        Assert.Equal(-27, AugmentOp.LevelToArg(AugmentOpKind.Rotate, 9, signs), 12);
        Assert.Equal(27, AugmentOp.LevelToArg(AugmentOpKind.Rotate, 9, signs), 12);
        Assert.Equal(-0.27, AugmentOp.LevelToArg(AugmentOpKind.ShearX, 9, signs), 12);
        Assert.Equal(0.405, AugmentOp.LevelToArg(AugmentOpKind.TranslateYRel, 9, signs), 12);
        Assert.Equal(0.19, AugmentOp.LevelToArg(AugmentOpKind.ColorIncreasing, 9, signs), 12);
        Assert.Equal(1.81, AugmentOp.LevelToArg(AugmentOpKind.SharpnessIncreasing, 9, signs), 12); // 0.5 is not > 0.5
        Assert.Equal(0, signs.DoublesLeft);
    }

    [Fact]
    public void Magnitude_noise_is_gaussian_clipped_to_0_and_10_or_mmax()
    {
        var rng = new Random(3);
        var op = new AugmentOp(AugmentOpKind.Rotate, 9, magnitudeStd: 0.5);
        var m = Enumerable.Range(0, 20000).Select(_ => op.SampleMagnitude(rng)).ToArray();
        Assert.InRange(m.Average(), 8.97, 9.01);   // E[min(N(9, .5), 10)] = 8.996
        Assert.InRange(m.Max(), 10, 10);
        Assert.InRange(Math.Sqrt(m.Select(v => (v - 9) * (v - 9)).Average()), 0.47, 0.51);

        var top = new AugmentOp(AugmentOpKind.Rotate, 10, magnitudeStd: 0.5);
        double atTen = Enumerable.Range(0, 20000).Count(_ => top.SampleMagnitude(rng) == 10) / 20000.0;
        Assert.InRange(atTen, 0.48, 0.52);         // half the draws are above 10 and clip to it

        var wide = new AugmentOp(AugmentOpKind.Rotate, 10, magnitudeStd: 0.5, magnitudeMax: 12);
        Assert.Contains(Enumerable.Range(0, 1000).Select(_ => wide.SampleMagnitude(rng)), v => v > 10);

        var uniform = new AugmentOp(AugmentOpKind.Rotate, 8, magnitudeStd: double.PositiveInfinity);
        var u = Enumerable.Range(0, 20000).Select(_ => uniform.SampleMagnitude(rng)).ToArray();
        Assert.InRange(u.Min(), 0, 0.01);
        Assert.InRange(u.Max(), 7.99, 8);
        Assert.InRange(u.Average(), 3.9, 4.1);
    }

    [Fact]
    public void An_op_fires_with_its_probability()
    {
        var rng = new Random(11);
        var img = new Rgb8Image(2, 2);
        var op = new AugmentOp(AugmentOpKind.Invert, 9, prob: 0.3);
        int fired = Enumerable.Range(0, 10000).Count(_ => op.Apply(img, rng) is not null);
        Assert.InRange(fired, 2800, 3200);
        // prob 1 never consults the Random for the coin (timm: `prob < 1.0 and ...`).
        Assert.NotNull(new AugmentOp(AugmentOpKind.Invert, 9, prob: 1.0).Apply(img, new ScriptedRandom()));
    }

    [Fact]
    public void Apply_draws_the_op_choices_first_then_each_ops_own_draws()
    {
        // n = 2: choose op 2 (Invert) then op 0 (AutoContrast); Invert's coin 0.1 <= 0.5 fires, AutoContrast's 0.9 skips.
        var ra = new RandAugment(magnitude: 9, numLayers: 2);
        var rng = new ScriptedRandom(doubles: [0.1, 0.9], ints: [2, 0]);
        var img = Images.FromPixels(2, 1, (0, 10, 20), (30, 40, 50));
        var o = ra.Apply(img, rng);
        Assert.Equal([255, 245, 235, 225, 215, 205], o.Data.Select(b => (int)b));
        Assert.Equal(0, rng.DoublesLeft + rng.IntsLeft);
        Assert.Equal(0, img[0, 0, 0]); // input untouched
    }

    [Fact]
    public void Apply_is_deterministic_from_the_Random_and_changes_images()
    {
        var src = new Rgb8Image(32, 24);
        new Random(1).NextBytes(src.Data);
        var ra = RandAugment.Parse("rand-m9-mstd0.5-inc1", AugmentHParams.ForTimmTransform("bicubic"));
        for (int seed = 0; seed < 20; seed++)
            Assert.Equal(ra.Apply(src, new Random(seed)).Data, ra.Apply(src, new Random(seed)).Data);
        int changed = Enumerable.Range(0, 200).Count(s => !ra.Apply(src, new Random(s)).Data.SequenceEqual(src.Data));
        // Both ops skip with probability 1/4; a few that fire leave this image as it is (e.g. an 8-bit posterize).
        Assert.InRange(changed, 130, 170);
    }

    [Fact]
    public void Timm_transform_hparams_use_the_rounded_ImageNet_mean_as_fill()
    {
        var hp = AugmentHParams.ForTimmTransform("bicubic");
        Assert.Equal([124, 116, 104], hp.Fill.Select(b => (int)b));
        Assert.Equal(PilResample.Bicubic, hp.Interpolation);
        Assert.Null(AugmentHParams.ForTimmTransform("random").Interpolation);
        Assert.Equal(PilResample.Bilinear, AugmentHParams.ForTimmTransform("nearest").Interpolation); // timm's _pil_interp
        // Python's round is half-to-even: 0.5/255 -> round(0.5) = 0, 1.5/255 -> 2.
        Assert.Equal([0, 2, 255], AugmentHParams.ForTimmTransform("bilinear", [0.5 / 255, 1.5 / 255, 1.2]).Fill.Select(b => (int)b));
    }
}
