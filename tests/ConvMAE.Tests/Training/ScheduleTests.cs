using ConvMAE.Training;
using Xunit;

namespace ConvMAE.Tests.Training;

public class ScheduleTests
{
    // Official finetune defaults: blr 1e-3 at batch 64 × accum 1 → lr 2.5e-4; warmup 5 of 50 epochs; min_lr 1e-6.
    static readonly LrSchedule Finetune = new(LrSchedule.ScaledLr(1e-3, 64, 1), 1e-6, 5, 50);

    [Fact]
    public void Lr_scales_with_the_effective_batch()
    {
        Assert.Equal(2.5e-4, LrSchedule.ScaledLr(1e-3, 64, 1), 15);
        Assert.Equal(1.5e-4 * 4096 / 256, LrSchedule.ScaledLr(1.5e-4, 128, 2, 16), 15);
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
        Assert.Equal(expected, Finetune.At(epoch), 12);

    [Fact]
    public void Per_iteration_fractional_epochs_rise_linearly_in_warmup()
    {
        // 40 iterations per epoch: iteration 7 of epoch 1 is epoch 1.175.
        Assert.Equal(2.5e-4 * 1.175 / 5, Finetune.At(1 + 7 / 40.0), 15);
    }
}
