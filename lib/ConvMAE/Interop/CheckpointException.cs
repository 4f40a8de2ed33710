namespace ConvMAE.Interop;

/// <summary>What went wrong with a checkpoint; lets callers react without parsing the message.</summary>
public enum CheckpointError
{
    /// <summary>The file does not exist.</summary>
    FileNotFound,
    /// <summary>The file has zero bytes.</summary>
    EmptyFile,
    /// <summary>The content is not a format this reader knows (an image, text, ...).</summary>
    UnknownFormat,
    /// <summary>A known format, but a variant this reader does not handle (legacy torch.save, TorchScript, ...).</summary>
    UnsupportedFormat,
    /// <summary>The file ends before the data its own header or directory promises.</summary>
    Truncated,
    /// <summary>The file is inconsistent with itself (bad header, bad pickle, out-of-range tensor).</summary>
    Corrupt,
    /// <summary>The file is readable but holds no state dict (no tensors where one was expected).</summary>
    NoStateDict,
    /// <summary>Loading into a module failed: missing keys, unexpected keys or shape mismatches.</summary>
    KeyMismatch,
    /// <summary>Writing the file failed (nothing was left at the destination).</summary>
    WriteFailed,
}

/// <summary>
/// The one exception type the interop code throws for a bad checkpoint. Its <see cref="Exception.Message"/>
/// is a single line that starts with the file (or source) name, e.g.
/// <c>checkpoint.pth: shape mismatch for blocks3.0.attn.qkv.weight: checkpoint [384,128], model [576,192]</c>.
/// Lower-level exceptions, if any, are kept as <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string source, CheckpointError kind, string problem, Exception? inner = null,
                               string? key = null, LoadReport? report = null)
        : base(OneLine($"{source}: {problem}"), inner)
    {
        SourceName = source;
        Kind = kind;
        Key = key;
        Report = report;
    }

    /// <summary>The file path (as given by the caller) or a description of the in-memory source.</summary>
    public string SourceName { get; }

    public CheckpointError Kind { get; }

    /// <summary>The state-dict key the problem is about, where there is a single one.</summary>
    public string? Key { get; }

    /// <summary>For <see cref="CheckpointError.KeyMismatch"/>: every missing/unexpected/mismatched key.</summary>
    public LoadReport? Report { get; }

    internal static string OneLine(string s) =>
        s.Replace("\r\n", " ").Replace('\n', ' ').Replace('\r', ' ');
}
