namespace ConvMAE.Interop;

/// <summary>A key present in both the checkpoint and the model, with different shapes.</summary>
public sealed record ShapeMismatch(string Key, long[] CheckpointShape, long[] ModelShape)
{
    public override string ToString() =>
        $"shape mismatch for {Key}: checkpoint {StateDict.FormatShape(CheckpointShape)}, model {StateDict.FormatShape(ModelShape)}";
}

/// <summary>What loading a state dict into a module did (or, for a strict failure, would have done).</summary>
public sealed class LoadReport
{
    public LoadReport(IReadOnlyList<string> loaded, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
                      IReadOnlyList<ShapeMismatch> mismatched)
    {
        Loaded = loaded;
        Missing = missing;
        Unexpected = unexpected;
        Mismatched = mismatched;
    }

    /// <summary>Keys copied into the model (empty when a strict load failed: nothing is copied then).</summary>
    public IReadOnlyList<string> Loaded { get; }
    /// <summary>Model keys the checkpoint lacks (they keep their current values).</summary>
    public IReadOnlyList<string> Missing { get; }
    /// <summary>Checkpoint keys the model lacks (ignored).</summary>
    public IReadOnlyList<string> Unexpected { get; }
    /// <summary>Keys in both with different shapes (not copied).</summary>
    public IReadOnlyList<ShapeMismatch> Mismatched { get; }

    /// <summary>True when every model key was matched by a checkpoint key of the same shape and nothing was left over.</summary>
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    /// <summary>One line: the problems, or "all N keys matched".</summary>
    public string Describe() => IsExact ? $"all {Loaded.Count} keys matched" : Problems(Missing, Unexpected, Mismatched);

    public override string ToString() => $"loaded {Loaded.Count}; " + Describe();

    /// <summary>The one-line problem list used in error messages. A single problem reads exactly like
    /// "shape mismatch for k: checkpoint [a,b], model [c,d]" / "missing key k" / "unexpected key k".</summary>
    internal static string Problems(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
                                    IReadOnlyList<ShapeMismatch> mismatched, int maxListed = 8)
    {
        var parts = new List<string>();
        parts.AddRange(mismatched.Take(maxListed).Select(m => m.ToString()));
        if (mismatched.Count > maxListed) parts.Add($"{mismatched.Count - maxListed} more shape mismatches");
        if (missing.Count > 0) parts.Add(KeyList(missing.Count == 1 ? "missing key" : $"{missing.Count} missing keys", missing, maxListed));
        if (unexpected.Count > 0) parts.Add(KeyList(unexpected.Count == 1 ? "unexpected key" : $"{unexpected.Count} unexpected keys", unexpected, maxListed));
        return string.Join("; ", parts);
    }

    private static string KeyList(string label, IReadOnlyList<string> keys, int max) =>
        $"{label} " + string.Join(", ", keys.Take(max)) + (keys.Count > max ? $", ... ({keys.Count - max} more)" : "");
}
