using ConvMAE.Data;
using ConvMAE.Training;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Augment;

/// <summary>timm's SoftTargetCrossEntropy and LabelSmoothingCrossEntropy against values computed by hand in C#.</summary>
public class LossesTests
{
    // Row 0: logits 1, 2, 3: log-sum-exp = ln(e + e² + e³). Row 1: all zero: log p = -ln 3 everywhere.
    static readonly double Lse0 = Math.Log(Math.E + Math.Exp(2) + Math.Exp(3));
    static Tensor Logits() => tensor(new float[] { 1, 2, 3, 0, 0, 0 }).view(2, 3);

    [Fact]
    public void Soft_target_cross_entropy_is_the_batch_mean_of_minus_target_dot_log_softmax()
    {
        using var logits = Logits();
        using var target = tensor(new float[] { 0, 0, 1, 0.5f, 0.5f, 0 }).view(2, 3);
        double row0 = Lse0 - 3, row1 = Math.Log(3);
        using var loss = Losses.SoftTargetCrossEntropy(logits, target);
        Assert.Equal((row0 + row1) / 2, loss.item<float>(), tolerance: 1e-6);
    }

    [Fact]
    public void Label_smoothing_cross_entropy_mixes_nll_with_the_mean_over_all_classes()
    {
        using var logits = Logits();
        using var target = tensor(new long[] { 2, 0 });
        // Row 0: nll = lse - 3; mean(-log p) = lse - 2. Row 1: both ln 3.
        double row0 = 0.9 * (Lse0 - 3) + 0.1 * (Lse0 - 2), row1 = Math.Log(3);
        using var loss = Losses.LabelSmoothingCrossEntropy(logits, target, 0.1);
        Assert.Equal((row0 + row1) / 2, loss.item<float>(), tolerance: 1e-6);
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.LabelSmoothingCrossEntropy(logits, target, 1.0));
    }

    [Fact]
    public void Label_smoothing_equals_soft_targets_from_an_unmixed_Mixup_target()
    {
        // timm's smoothing spreads s over all K classes, so it is soft-target CE against (1-s)·onehot + s/K,
        // which is exactly what mixup_target builds with λ = 1.
        manual_seed(4);
        using var logits = randn(6, 10);
        using var labels = tensor(new long[] { 1, 9, 0, 4, 4, 7 });
        using var soft = Mixup.MixupTarget(labels, 10, lam: 1.0, smoothing: 0.1);
        using var a = Losses.LabelSmoothingCrossEntropy(logits, labels, 0.1);
        using var b = Losses.SoftTargetCrossEntropy(logits, soft);
        Assert.Equal(b.item<float>(), a.item<float>(), tolerance: 1e-5);
    }

    [Fact]
    public void Losses_backpropagate_softmax_minus_target()
    {
        using var logits = Logits().requires_grad_();
        using var target = tensor(new float[] { 0, 0, 1, 0.5f, 0.5f, 0 }).view(2, 3);
        using var loss = Losses.SoftTargetCrossEntropy(logits, target);
        loss.backward();
        // d/dz of mean_rows(-t·log softmax z) = (softmax z - t) / B.
        double p02 = Math.Exp(3 - Lse0);
        Assert.Equal((p02 - 1) / 2, logits.grad![0, 2].item<float>(), tolerance: 1e-6);
        Assert.Equal((1.0 / 3 - 0.5) / 2, logits.grad![1, 0].item<float>(), tolerance: 1e-6);
    }
}
