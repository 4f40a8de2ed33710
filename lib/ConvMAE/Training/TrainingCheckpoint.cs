using ConvMAE.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// The kit's one checkpoint format: the official training checkpoint ({model, optimizer, epoch, scaler, args},
/// loadable by the official code) with the optimizer in PyTorch's state_dict layout and one extra entry,
/// "convmae", holding what an exact resume needs (kind, model config, iteration, the epoch's running loss, seed).
/// Written atomically: a crash leaves the previous checkpoint intact.
/// </summary>
/// <param name="Iteration">Iterations completed; null in format-1 checkpoints, which resume at <paramref name="NextEpoch"/>.</param>
public sealed record ResumeState(string Path, string Kind, string ConfigJson, int NextEpoch, long GlobalStep, int Seed, PyDict Optimizer,
                                 long? Iteration = null, double EpochLossSum = 0, int EpochLossCount = 0);

public static class TrainingCheckpoint
{
    public const string FileName = "checkpoint.pth";
    // 2: the iteration and the current epoch's running loss, for mid-epoch resume (1 resumed at epoch boundaries).
    const int FormatVersion = 2;

    public static void Save(string path, string kind, nn.Module model, IOptimizer optimizer, TrainerState state, int seed,
                            string configJson, IEnumerable<KeyValuePair<string, object?>> args)
    {
        int completedEpochs = (int)(state.Iteration / state.IterationsPerEpoch);
        var root = new PyDict
        {
            ["model"] = new StateDict(model.state_dict()),
            ["optimizer"] = optimizer.StateDict(),
            ["epoch"] = (long)(completedEpochs - 1),          // official meaning: the last epoch completed
            ["scaler"] = new PyDict(),
            ["args"] = PyObject.Namespace(args),
            ["convmae"] = new PyDict
            {
                ["format_version"] = (long)FormatVersion, ["kind"] = kind, ["config"] = configJson,
                ["next_epoch"] = (long)completedEpochs, ["global_step"] = state.Iteration, ["iteration"] = state.Iteration,
                ["iterations_per_epoch"] = (long)state.IterationsPerEpoch,
                ["epoch_loss_sum"] = state.Iteration % state.IterationsPerEpoch == 0 ? 0.0 : state.EpochLossSum,
                ["epoch_loss_count"] = (long)(state.Iteration % state.IterationsPerEpoch == 0 ? 0 : state.EpochLossCount),
                ["seed"] = (long)seed,
            },
        };
        Checkpoints.SaveTorch(path, root);
    }

    /// <summary>Loads the model weights (strict) and returns what the loop needs to continue. Throws
    /// <see cref="CheckpointException"/> naming the file when it is not a kit training checkpoint of this kind.</summary>
    public static ResumeState Load(string path, string kind, nn.Module model)
    {
        using var ckpt = Checkpoints.Read(path, loadExtraTensors: true);
        var meta = Meta(ckpt);
        var saved = (string)meta["kind"]!;
        if (saved != kind)
            throw new CheckpointException(path, CheckpointError.KeyMismatch, $"a {saved} checkpoint cannot resume a {kind} run");
        Checkpoints.LoadInto(model, ckpt.StateDict, strict: true, sourceName: path);
        var optimizer = ckpt.Extras.GetValueOrDefault("optimizer") as PyDict
                        ?? throw new CheckpointException(path, CheckpointError.NoStateDict, "no optimizer state to resume from");
        long? iteration = meta.TryGetValue("iteration", out var it) && it is not null ? Convert.ToInt64(it) : null;
        return new ResumeState(path, saved, (string)meta["config"]!, (int)Convert.ToInt64(meta["next_epoch"]),
                               Convert.ToInt64(meta["global_step"]), (int)Convert.ToInt64(meta["seed"]), Detach(optimizer), iteration,
                               meta.TryGetValue("epoch_loss_sum", out var ls) && ls is not null ? Convert.ToDouble(ls) : 0,
                               meta.TryGetValue("epoch_loss_count", out var lc) && lc is not null ? (int)Convert.ToInt64(lc) : 0);
    }

    /// <summary>The kit's own record in a checkpoint (kind, config, position); throws naming the file when it has none
    /// (an official checkpoint, or a bare state_dict).</summary>
    public static PyDict Meta(Checkpoint ckpt) =>
        ckpt.Extras.GetValueOrDefault("convmae") as PyDict
        ?? throw new CheckpointException(ckpt.Path, CheckpointError.NoStateDict,
            "not a ConvMAE.Notebooks training checkpoint (no 'convmae' entry); official weights load with --finetune or Checkpoints.Load");

    /// <summary>The checkpoint's tensors are disposed with it: keep private copies of the optimizer's.</summary>
    static PyDict Detach(PyDict d)
    {
        var copy = new PyDict();
        foreach (var (k, v) in d) copy[k] = v switch
        {
            TorchSharp.torch.Tensor t => t.clone().DetachFromDisposeScope(),
            PyDict inner => Detach(inner),
            _ => v,
        };
        return copy;
    }
}
