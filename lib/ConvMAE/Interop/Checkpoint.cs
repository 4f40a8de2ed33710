using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>File formats <see cref="Checkpoints.Read"/> understands (detected from the content, not the extension).</summary>
public enum CheckpointFormat
{
    /// <summary>A <c>torch.save</c> zip archive (PyTorch ≥ 1.6): a training checkpoint or a bare state_dict.</summary>
    TorchZip,
    /// <summary>A safetensors file.</summary>
    Safetensors,
}

/// <summary>
/// A checkpoint read from disk: the state dict plus what the file says about the run. Owns its tensors; dispose it
/// (or take <see cref="StateDict"/> and dispose that) to free native memory.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly List<Tensor> _ownedExtras;

    internal Checkpoint(string path, CheckpointFormat format, StateDict stateDict, string? stateDictKey, long? epoch,
                        IReadOnlyDictionary<string, object?>? args, IReadOnlyDictionary<string, object?> extras,
                        IReadOnlyDictionary<string, string> metadata, List<Tensor> ownedExtras)
    {
        Path = path;
        Format = format;
        StateDict = stateDict;
        StateDictKey = stateDictKey;
        Epoch = epoch;
        Args = args;
        Extras = extras;
        Metadata = metadata;
        _ownedExtras = ownedExtras;
    }

    /// <summary>The path as the caller gave it.</summary>
    public string Path { get; }
    public CheckpointFormat Format { get; }

    /// <summary>The model weights, in the file's order.</summary>
    public StateDict StateDict { get; }

    /// <summary>Where the weights were found in a torch.save dict: "model", "state_dict" or "module";
    /// null for a bare state_dict and for safetensors.</summary>
    public string? StateDictKey { get; }

    /// <summary>The <c>epoch</c> entry of a training checkpoint, when present.</summary>
    public long? Epoch { get; }

    /// <summary>The <c>args</c> entry (an argparse.Namespace or a dict) as name → value, when present. Values are plain
    /// .NET values: string, long, double, bool, null, object?[] (tuple), List&lt;object?&gt; (list), PyDict, PyObject.</summary>
    public IReadOnlyDictionary<string, object?>? Args { get; }

    /// <summary>Every other top-level entry of a torch.save dict (optimizer, scaler, epoch, args, ...), as Python values.
    /// Tensors inside are <see cref="TensorInfo"/> unless the file was read with loadExtraTensors: true.</summary>
    public IReadOnlyDictionary<string, object?> Extras { get; }

    /// <summary>The safetensors <c>__metadata__</c> strings (empty for torch.save files).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public override string ToString() =>
        $"{Path}: {Format}, {StateDict.Count} tensors" + (StateDictKey is null ? "" : $" under '{StateDictKey}'") +
        (Epoch is null ? "" : $", epoch {Epoch}") + (Args is null ? "" : $", {Args.Count} args");

    public void Dispose()
    {
        StateDict.Dispose();
        foreach (var t in _ownedExtras) t.Dispose();
        _ownedExtras.Clear();
    }
}
