using ConvMAE.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>What differs between pretraining, finetuning and linear probing; everything else is the one loop in
/// <see cref="Trainer"/>.</summary>
public interface ITrainingTask
{
    /// <summary>"pretrain", "finetune" or "linprobe".</summary>
    string Kind { get; }
    /// <summary>The whole model: what a checkpoint's "model" holds.</summary>
    nn.Module Model { get; }
    /// <summary>The loss of one batch (a scalar, in the caller's dispose scope). <paramref name="rng"/> is this step's
    /// own stream for augmentations done on the batch (mixup, erasing).</summary>
    Tensor Loss(Batch batch, Random rng);
}

/// <summary>One training step as reported to progress displays and logs.</summary>
public sealed record StepReport(string Kind, int Epoch, int Epochs, int Step, int StepsPerEpoch, long GlobalStep, double Loss,
                                double Lr, double ImagesPerSecond, TimeSpan Elapsed, TimeSpan Remaining);

/// <summary>End-of-epoch summary, with evaluation metrics when the task has them.</summary>
public sealed record EpochReport(string Kind, int Epoch, int Epochs, double TrainLoss, IReadOnlyDictionary<string, double> Eval,
                                 string? Checkpoint, TimeSpan Elapsed);

/// <summary>Raised when the loss stops being finite: the run stops, the last good checkpoint stays as it was.</summary>
public sealed class NonFiniteLossException(string message) : Exception(message);
