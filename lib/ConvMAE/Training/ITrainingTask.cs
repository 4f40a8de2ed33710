using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>What the loader hands the loop: a batch on the host (managed memory only), with its place in the run.</summary>
public interface IHostBatch
{
    /// <summary>The epoch the batch belongs to.</summary>
    int Epoch { get; }
    /// <summary>Position of this batch in its epoch.</summary>
    int Index { get; }
    /// <summary>Samples in the batch (images, clips), for throughput figures.</summary>
    int Count { get; }
}

/// <summary>
/// What differs between tasks (pretraining, finetuning, linear probing, detection, segmentation, video); everything
/// else is the one loop in <see cref="Trainer{THost}"/>. A task moves its batch to the device and returns its losses
/// by name (detectron2's convention: a dict of named losses, summed for the backward pass and logged one by one).
/// </summary>
public interface ITrainingTask<in THost> where THost : IHostBatch
{
    /// <summary>"pretrain", "finetune", "linprobe", "detect", "segment", ...: recorded in checkpoints.</summary>
    string Kind { get; }
    /// <summary>The whole model: what a checkpoint's "model" holds.</summary>
    nn.Module Model { get; }
    /// <summary>The named scalar losses of one batch, in the caller's dispose scope. <paramref name="rng"/> is this step's
    /// own stream for augmentations done on the batch (mixup, erasing); libtorch's generator is seeded per step too.</summary>
    IReadOnlyDictionary<string, Tensor> Losses(THost batch, Device device, Random rng);
    /// <summary>Called after the backward pass, before the optimizer step (mixed precision copies gradients here).</summary>
    void AfterBackward() { }
}

/// <summary>The name a task with a single loss uses.</summary>
public static class LossNames
{
    public const string Total = "loss";

    /// <summary>One loss under the name "loss".</summary>
    public static IReadOnlyDictionary<string, Tensor> Single(Tensor loss) => new Dictionary<string, Tensor> { [Total] = loss };
}

/// <summary>One training step as reported to progress displays and logs. <see cref="Loss"/> is the sum that was
/// back-propagated; <see cref="Losses"/> holds each named part (only "loss" for single-loss tasks).</summary>
public sealed record StepReport(string Kind, int Epoch, int Epochs, int Step, int StepsPerEpoch, long GlobalStep, double Loss,
                                double Lr, double ImagesPerSecond, TimeSpan Elapsed, TimeSpan Remaining)
{
    public IReadOnlyDictionary<string, double> Losses { get; init; } = new Dictionary<string, double>();
    /// <summary>The run's length in iterations.</summary>
    public long TotalSteps { get; init; }
}

/// <summary>End-of-epoch summary, with evaluation metrics when the task has them.</summary>
public sealed record EpochReport(string Kind, int Epoch, int Epochs, double TrainLoss, IReadOnlyDictionary<string, double> Eval,
                                 string? Checkpoint, TimeSpan Elapsed);

/// <summary>Raised when the loss stops being finite: the run stops, the last good checkpoint stays as it was.</summary>
public sealed class NonFiniteLossException(string message) : Exception(message);
