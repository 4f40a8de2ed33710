using ConvMAE.Data;
using ConvMAE.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// Finetuning and linear probing (official engine_finetune.train_one_epoch): optional per-batch mixing (mixup/cutmix
/// with smoothed soft targets) and per-sample random erasing, then the criterion on the logits.
/// </summary>
public sealed class ClassificationTask(string kind, ConvViT model, Func<Tensor, Tensor, Tensor> criterion) : ITrainingTask<HostBatch>
{
    public string Kind { get; } = kind is "finetune" or "linprobe" ? kind : throw new ArgumentException($"unknown classification kind '{kind}'");
    public nn.Module Model => model;
    public ConvViT Classifier => model;

    /// <summary>(images, labels, rng) → (images, targets): mixup/cutmix; null for none (targets stay class indices).</summary>
    public Func<Tensor, Tensor, Random, (Tensor Images, Tensor Targets)>? Mix { get; init; }
    /// <summary>(images, rng) → images: random erasing on the normalised batch; null for none.</summary>
    public Func<Tensor, Random, Tensor>? Erase { get; init; }

    public IReadOnlyDictionary<string, Tensor> Losses(HostBatch host, Device device, Random rng)
    {
        var batch = Batch.FromHost(host, device);          // disposed with the step's scope
        var images = batch.Images;
        Tensor targets = batch.Labels;
        if (Erase is not null) images = Erase(images, rng);
        if (Mix is not null) (images, targets) = Mix(images, targets, rng);
        return LossNames.Single(criterion(model.forward(images), targets));
    }
}
