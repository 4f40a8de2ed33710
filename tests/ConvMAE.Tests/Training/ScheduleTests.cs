using ConvMAE.Training;
using Xunit;

namespace ConvMAE.Tests.Training;

/// <summary>Each schedule against its reference formula, evaluated by hand at chosen iterations.</summary>
public class ScheduleTests
{
    // Official finetune defaults: blr 1e-3 at batch 64 × accum 1 → lr 2.5e-4; warmup 5 of 50 epochs; min_lr 1e-6.
    static readonly HalfCycleCosine Finetune = new(HalfCycleCosine.ScaledLr(1e-3, 64, 1), 1e-6, 5, 50);

    [Fact]
    public void Lr_scales_with_the_effective_batch()
    {
        Assert.Equal(2.5e-4, HalfCycleCosine.ScaledLr(1e-3, 64, 1), 15);
        Assert.Equal(1.5e-4 * 4096 / 256, HalfCycleCosine.ScaledLr(1.5e-4, 128, 2, 16), 15);
    }

    [Theory]
    // (epoch as the loop computes it: epoch + step/steps_per_epoch, expected lr by the official formula by hand)
    [InlineData(0.0, 0.0)]
    [InlineData(2.5, 1.25e-4)]                             // warmup: 2.5e-4 × 2.5 / 5
    [InlineData(5.0, 2.5e-4)]                              // end of warmup: cos(0) = 1
    [InlineData(27.5, 1e-6 + (2.5e-4 - 1e-6) * 0.5)]       // half-way through the cosine: cos(π/2) = 0
    [InlineData(50.0, 1e-6)]                               // end: cos(π) = −1
    [InlineData(16.25, 1e-6 + (2.5e-4 - 1e-6) * 0.5 * (1 + 0.70710678118654752))]   // a quarter: cos(π/4)
    public void Warmup_then_half_cycle_cosine(double epoch, double expected) =>
        Assert.Equal(expected, Finetune.AtEpoch(epoch), 12);

    [Fact]
    public void Per_iteration_fractional_epochs_rise_linearly_in_warmup()
    {
        // 40 iterations per epoch: iteration 47 is step 7 of epoch 1, epoch 1.175, exactly as the official loop forms it.
        Assert.Equal(2.5e-4 * (1 + 7 / 40.0) / 5, Finetune.At(47, 40, 2000), 15);
        Assert.Equal(Finetune.AtEpoch(1 + 7 / 40.0), Finetune.At(47, 40, 2000));
    }

    [Fact]
    public void Without_epochs_the_cosine_spans_max_iter()
    {
        // 100 iterations per epoch, --max_iter 1000: the cosine ends at epoch 10; half-way after warmup 2 is epoch 6.
        var s = new HalfCycleCosine(1.0, 0.0, 2, 0);
        Assert.Equal(0.5, s.At(600, 100, 1000), 12);
        Assert.Equal(0.0, s.At(1000, 100, 1000), 12);
    }

    // ConvMAE-B Mask R-CNN 25 epochs: max_iter 368750 // 4 = 92187, warmup_length 0.125/100 × 4, factor 0.001, lr 8e-5.
    static readonly WarmupCosine Detection = new(8e-5, 0.005, 0.001);
    const long DetectionIters = 92187;

    static double CosineFactor(double where) => 0.5 * (1 + Math.Cos(Math.PI * where));

    [Fact]
    public void Detection_schedule_warms_up_linearly_from_a_thousandth_then_follows_the_cosine()
    {
        Assert.Equal(8e-5 * 0.001, Detection.At(0, 1, DetectionIters), 15);
        // Iteration 230: t = where / 0.005 of the way from 0.001 to the cosine's value at the end of warmup.
        double where = 230.0 / DetectionIters, t = where / 0.005;
        Assert.Equal(8e-5 * (CosineFactor(0.005) * t + 0.001 * (1 - t)), Detection.At(230, 1, DetectionIters), 15);
        // Iteration 461 (where 0.0050007): past the warmup, on the cosine itself (not rescaled).
        Assert.Equal(8e-5 * CosineFactor(461.0 / DetectionIters), Detection.At(461, 1, DetectionIters), 15);
        Assert.Equal(8e-5 * CosineFactor(46000.0 / DetectionIters), Detection.At(46000, 1, DetectionIters), 15);
        Assert.Equal(8e-5 * CosineFactor(92186.0 / DetectionIters), Detection.At(92186, 1, DetectionIters), 15);
        // A boundary iteration belongs to the later phase (fvcore's WHERE_EPSILON): 1000 iterations, warmup 0.01.
        Assert.Equal(CosineFactor(0.01), new WarmupCosine(1.0, 0.01).At(10, 1, 1000), 15);
    }

    // ConvMAE-B UperNet 160k: poly power 1, min_lr 0, 1500 warmup iterations from ratio 1e-6.
    static readonly WarmupPoly Segmentation = new(1e-4, Power: 1.0, MinLr: 0.0, WarmupIters: 1500, WarmupRatio: 1e-6);

    [Theory]
    [InlineData(0L, 1e-4 * 1e-6)]                                                    // k = 1 − 1e-6
    [InlineData(750L, 1e-4 * (1 - 750 / 160000.0) * (1 - 0.5 * (1 - 1e-6)))]         // half-way through warmup
    [InlineData(1500L, 1e-4 * (1 - 1500 / 160000.0))]                                // warmup over
    [InlineData(80000L, 1e-4 * 0.5)]
    [InlineData(159999L, 1e-4 / 160000)]
    public void Segmentation_schedule_is_mmcv_poly_with_linear_warmup(long iteration, double expected) =>
        Assert.Equal(expected, Segmentation.At(iteration, 1, 160000), 15);

    [Fact]
    public void Poly_with_power_and_min_lr_follows_the_mmcv_formula()
    {
        var s = new WarmupPoly(1.0, Power: 0.9, MinLr: 1e-4);
        Assert.Equal((1.0 - 1e-4) * Math.Pow(1 - 0.25, 0.9) + 1e-4, s.At(250, 1, 1000), 15);
    }

    [Theory]
    // detectron2 1× schedule: 90000 iterations, steps at 60000 and 80000, gamma 0.1, warmup 100 iterations from 0.001.
    [InlineData(0L, 0.001)]
    [InlineData(50L, 0.001 * 0.5 + 1.0 * 0.5)]
    [InlineData(100L, 1.0)]
    [InlineData(59999L, 1.0)]
    [InlineData(60000L, 0.1)]
    [InlineData(80000L, 0.01)]
    public void Multi_step_schedule_drops_by_gamma_at_each_milestone(long iteration, double expected) =>
        Assert.Equal(expected, new WarmupMultiStep(1.0, [60000, 80000], 0.1, 100.0 / 90000).At(iteration, 1, 90000), 12);
}
