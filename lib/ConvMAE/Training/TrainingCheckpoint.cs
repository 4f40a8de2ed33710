using ConvMAE.Interop;
using TorchSharp;

namespace ConvMAE.Training;

/// <summary>
/// The kit's one checkpoint format: the official training checkpoint ({model, optimizer, epoch, scaler, args},
/// loadable by the official code) with the optimizer in PyTorch's state_dict layout and one extra entry,
/// "convmae", holding what an exact resume needs (kind, model config, next epoch, global step, seed).
/// Written atomically: a crash leaves the previous checkpoint intact.
/// </summary>
public sealed record ResumeState(string Path, string Kind, string ConfigJson, int NextEpoch, long GlobalStep, int Seed, PyDict Optimizer);

public static class TrainingCheckpoint
{
    public const string FileName = "checkpoint.pth";
    const int FormatVersion = 1;

    public static void Save(string path, ITrainingTask task, IOptimizer optimizer, int completedEpoch, long globalStep, int seed,
                            string configJson, IEnumerable<KeyValuePair<string, object?>> args)
    {
        var root = new PyDict
        {
            ["model"] = new StateDict(task.Model.state_dict()),
            ["optimizer"] = optimizer.StateDict(),
            ["epoch"] = (long)completedEpoch,
            ["scaler"] = new PyDict(),
            ["args"] = PyObject.Namespace(args),
            ["convmae"] = new PyDict
            {
                ["format_version"] = (long)FormatVersion, ["kind"] = task.Kind, ["config"] = configJson,
                ["next_epoch"] = (long)(completedEpoch + 1), ["global_step"] = globalStep, ["seed"] = (long)seed,
            },
        };
        Checkpoints.SaveTorch(path, root);
    }

    /// <summary>Loads the model weights (strict) and returns what the loop needs to continue. Throws
    /// <see cref="CheckpointException"/> naming the file when it is not a kit training checkpoint of this kind.</summary>
    public static ResumeState Load(string path, ITrainingTask task)
    {
        using var ckpt = Checkpoints.Read(path, loadExtraTensors: true);
        var meta = Meta(ckpt);
        var kind = (string)meta["kind"]!;
        if (kind != task.Kind)
            throw new CheckpointException(path, CheckpointError.KeyMismatch, $"a {kind} checkpoint cannot resume a {task.Kind} run");
        Checkpoints.LoadInto(task.Model, ckpt.StateDict, strict: true, sourceName: path);
        var optimizer = ckpt.Extras.GetValueOrDefault("optimizer") as PyDict
                        ?? throw new CheckpointException(path, CheckpointError.NoStateDict, "no optimizer state to resume from");
        return new ResumeState(path, kind, (string)meta["config"]!, (int)Convert.ToInt64(meta["next_epoch"]),
                               Convert.ToInt64(meta["global_step"]), (int)Convert.ToInt64(meta["seed"]), Detach(optimizer));
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
