using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// The two classification losses of ConvMAE/MAE finetuning (timm's <c>timm/loss/cross_entropy.py</c>):
/// <see cref="SoftTargetCrossEntropy"/> when Mixup/CutMix produce soft targets, otherwise
/// <see cref="LabelSmoothingCrossEntropy"/> on class indices. Both average over the batch.
/// </summary>
public static class Losses
{
    /// <summary>main_finetune's (and VideoMAE's) choice: soft-target CE when mixup/cutmix mix the batch, else
    /// label-smoothing CE when <paramref name="smoothing"/> &gt; 0, else plain cross-entropy.</summary>
    public static Func<Tensor, Tensor, Tensor> FinetuneCriterion(bool mixing, double smoothing) =>
        mixing ? SoftTargetCrossEntropy
        : smoothing > 0 ? (logits, labels) => LabelSmoothingCrossEntropy(logits, labels, smoothing)
        : (logits, labels) => nn.functional.cross_entropy(logits, labels);

    /// <summary>mean over rows of Σ_k −target_k · log_softmax(logits)_k; logits [B,K], target [B,K] (rows need not be one-hot).</summary>
    public static Tensor SoftTargetCrossEntropy(Tensor logits, Tensor target)
    {
        using var scope = NewDisposeScope();
        var loss = (-target * nn.functional.log_softmax(logits, -1)).sum(-1);
        return loss.mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// timm's formula: mean over rows of (1−s)·nll + s·mean_k(−log p_k), with nll = −log p_target. The smoothing
    /// term averages over all K classes (the target included), which equals cross-entropy against
    /// (1−s)·onehot + s/K, unlike some formulations that spread s over the other K−1 classes only.
    /// </summary>
    public static Tensor LabelSmoothingCrossEntropy(Tensor logits, Tensor target, double smoothing = 0.1)
    {
        if (!(smoothing < 1.0)) throw new ArgumentOutOfRangeException(nameof(smoothing), "smoothing must be < 1");
        using var scope = NewDisposeScope();
        var logprobs = nn.functional.log_softmax(logits, -1);
        var nll = -logprobs.gather(-1, target.to(ScalarType.Int64).unsqueeze(1)).squeeze(1);
        var smooth = -logprobs.mean([-1L]);
        var loss = (1.0 - smoothing) * nll + smoothing * smooth;
        return loss.mean().MoveToOuterDisposeScope();
    }
}
