using ConvMAE.Data;
using ConvMAE.Modeling;
using ConvMAE.Training;
using static TorchSharp.torch;

namespace ConvMAE.Recipes;

/// <summary>main_finetune.py's choices: random erasing (--reprob, --remode, --recount) on the normalised batch, mixup/cutmix
/// when either alpha or cutmix_minmax is set, and the criterion that follows (SoftTargetCrossEntropy with mixing,
/// else LabelSmoothingCrossEntropy when --smoothing > 0, else cross-entropy).</summary>
internal static class FinetuneAugment
{
    public static ClassificationTask Task(FinetuneArgs a, ConvViT model, int numClasses)
    {
        (double, double)? minmax = null;
        if (!string.IsNullOrEmpty(a.CutmixMinmax))
        {
            var parts = a.CutmixMinmax.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries).Select(double.Parse).ToArray();
            if (parts.Length != 2) throw new ArgumentException($"--cutmix_minmax '{a.CutmixMinmax}': expected two numbers, e.g. 0.2,0.8");
            minmax = (parts[0], parts[1]);
        }
        var mixup = new Mixup(a.Mixup, a.Cutmix, minmax, a.MixupProb, a.MixupSwitchProb, Enum.Parse<MixupMode>(a.MixupMode, ignoreCase: true),
                              labelSmoothing: a.Smoothing, numClasses: numClasses);
        var erasing = a.Reprob > 0 ? RandomErasing.ForTimmTransform(a.Reprob, a.Remode, a.Recount) : null;
        return new ClassificationTask("finetune", model, Losses.FinetuneCriterion(mixup.Active, a.Smoothing))
        {
            Erase = erasing is null ? null : (images, rng) => erasing.Apply(images, rng),
            Mix = mixup.Active ? (images, labels, rng) => mixup.Apply(images, labels, rng) : null,
        };
    }
}
