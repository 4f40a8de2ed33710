using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>How <see cref="Checkpoints.LoadPretrained(TorchSharp.torch.nn.Module, string, PretrainedLoadOptions?)"/>
/// maps a pretraining checkpoint onto a downstream model.</summary>
public sealed record PretrainedLoadOptions
{
    /// <summary>Resize <see cref="PosEmbedKeys"/> bicubically when the model's token grid differs (default true).</summary>
    public bool InterpolatePosEmbed { get; init; } = true;

    /// <summary>Position tables [1,L,D] to resize (default: pos_embed).</summary>
    public IReadOnlyList<string> PosEmbedKeys { get; init; } = ["pos_embed"];

    /// <summary>Extra key prefixes to drop when the model lacks them, besides the pretraining-only ones
    /// (<see cref="PretrainedAdapter.PretrainOnlyPrefixes"/>) and norm.* of a global-pool classifier.</summary>
    public IReadOnlyList<string> DropIfAbsent { get; init; } = [];

    /// <summary>Key prefixes that may stay missing (keep their initial values). Default: head. and fc_norm., exactly the
    /// keys main_finetune asserts are missing. "" allows any key to be missing.</summary>
    public IReadOnlyList<string> AllowedMissing { get; init; } = ["head.", "fc_norm."];

    /// <summary>Strict (default): unexpected keys left after dropping, shape mismatches, and missing keys outside
    /// <see cref="AllowedMissing"/> throw, and nothing is copied. Non-strict: they are reported and skipped.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>Image classification finetuning / linear probing from a pretraining checkpoint (main_finetune, main_linprobe).</summary>
    public static PretrainedLoadOptions Finetune { get; } = new();

    /// <summary>Detection/segmentation backbones: the encoder is loaded, norm.* is dropped when the backbone lacks it,
    /// and any key the checkpoint lacks (relative-position tables, layer scale, FPN, ...) keeps its initial value.</summary>
    public static PretrainedLoadOptions Backbone { get; } = new() { DropIfAbsent = ["norm."], AllowedMissing = [""] };

    internal bool IsAllowedMissing(string key) => AllowedMissing.Any(p => key.StartsWith(p, StringComparison.Ordinal));
}

/// <summary>A checkpoint key left out, and why.</summary>
public sealed record DroppedKey(string Key, string Reason)
{
    public override string ToString() => $"{Key} ({Reason})";
}

/// <summary>A position table resized from one token grid to another.</summary>
public sealed record InterpolatedKey(string Key, long[] From, long[] To)
{
    public override string ToString() => $"{Key} {StateDict.FormatShape(From)} → {StateDict.FormatShape(To)}";
}

/// <summary>What loading a pretraining checkpoint into a downstream model did.</summary>
public sealed record PretrainedLoadReport(IReadOnlyList<DroppedKey> Dropped, IReadOnlyList<InterpolatedKey> Interpolated, LoadReport Load)
{
    public string Describe() =>
        $"loaded {Load.Loaded.Count} keys; dropped {Dropped.Count}" +
        (Dropped.Count > 0 ? $" ({string.Join(", ", Dropped.GroupBy(d => d.Reason).Select(g => $"{g.Count()} {g.Key}"))})" : "") +
        $"; interpolated {(Interpolated.Count == 0 ? "none" : string.Join(", ", Interpolated))}" +
        (Load.Missing.Count > 0 ? $"; missing (kept initial values): {string.Join(", ", Load.Missing)}" : "") +
        (Load.Unexpected.Count > 0 ? $"; ignored unexpected: {string.Join(", ", Load.Unexpected)}" : "") +
        (Load.Mismatched.Count > 0 ? $"; skipped {string.Join("; ", Load.Mismatched)}" : "");

    public override string ToString() => Describe();
}

/// <summary>
/// A pretraining state dict adapted to a target: the tensors to load (shared with the source, except resized
/// position tables, which this object owns), and what was dropped or resized. Dispose it to free the resized tables.
/// </summary>
public sealed class AdaptedStateDict : IDisposable
{
    private readonly List<Tensor> _owned;

    internal AdaptedStateDict(StateDict stateDict, IReadOnlyList<DroppedKey> dropped, IReadOnlyList<InterpolatedKey> interpolated, List<Tensor> owned)
    {
        StateDict = stateDict;
        Dropped = dropped;
        Interpolated = interpolated;
        _owned = owned;
    }

    /// <summary>The tensors to load. Do not dispose: most belong to the source state dict.</summary>
    public StateDict StateDict { get; }
    public IReadOnlyList<DroppedKey> Dropped { get; }
    public IReadOnlyList<InterpolatedKey> Interpolated { get; }

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}

/// <summary>The key mapping of the official finetuning and downstream loaders (spec §6), as a pure function of
/// the checkpoint and the target's key → shape map.</summary>
public static class PretrainedAdapter
{
    /// <summary>Keys only the pretraining model (MaskedAutoencoderConvViT) has: the decoder, the mask token and the
    /// multi-scale decode convolutions.</summary>
    public static IReadOnlyList<string> PretrainOnlyPrefixes { get; } =
        ["decoder_", "mask_token", "stage1_output_decode.", "stage2_output_decode."];

    /// <summary>
    /// Applies, in order: (1) drop checkpoint keys the target lacks that are pretraining-only, or norm.* when the target
    /// pools globally (has fc_norm.* and no norm.*), or match <see cref="PretrainedLoadOptions.DropIfAbsent"/>;
    /// (2) drop head.* keys whose shape differs from the target's; (3) resize the position tables whose token grid
    /// differs (bicubic, align_corners=False). Everything else passes through unchanged (unexpected keys included:
    /// the loader reports them).
    /// </summary>
    public static AdaptedStateDict Adapt(StateDict source, IReadOnlyDictionary<string, long[]> target,
                                         PretrainedLoadOptions? options = null, string sourceName = "state dict")
    {
        options ??= PretrainedLoadOptions.Finetune;
        bool globalPool = target.Keys.Any(k => k.StartsWith("fc_norm.", StringComparison.Ordinal))
                          && !target.Keys.Any(k => k.StartsWith("norm.", StringComparison.Ordinal));
        var result = new StateDict();
        var dropped = new List<DroppedKey>();
        var interpolated = new List<InterpolatedKey>();
        var owned = new List<Tensor>();
        try
        {
            foreach (var (key, t) in source)
            {
                if (!target.TryGetValue(key, out var shape))
                {
                    string? reason =
                        PretrainOnlyPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal)) ? "pretraining-only"
                        : globalPool && key.StartsWith("norm.", StringComparison.Ordinal) ? "replaced by fc_norm (global pooling)"
                        : options.DropIfAbsent.Any(p => key.StartsWith(p, StringComparison.Ordinal)) ? "not in the model"
                        : null;
                    if (reason is not null) { dropped.Add(new DroppedKey(key, reason)); continue; }
                    result.Add(key, t);      // unexpected: left for the loader to report
                    continue;
                }
                if (t.shape.SequenceEqual(shape)) { result.Add(key, t); continue; }

                if (key.StartsWith("head.", StringComparison.Ordinal))
                {
                    dropped.Add(new DroppedKey(key, $"head shape differs: checkpoint {StateDict.FormatShape(t.shape)}, model {StateDict.FormatShape(shape)}"));
                    continue;
                }
                if (options.InterpolatePosEmbed && options.PosEmbedKeys.Contains(key) && CanResize(t.shape, shape, out int newGrid))
                {
                    var resized = PosEmbed.Interpolate(t, newGrid);
                    owned.Add(resized);
                    result.Add(key, resized);
                    interpolated.Add(new InterpolatedKey(key, t.shape, resized.shape));
                    continue;
                }
                result.Add(key, t);          // shape mismatch: left for the loader to report
            }
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
        return new AdaptedStateDict(result, dropped, interpolated, owned);
    }

    /// <summary>Both [1, g², D] with the same D and square grids (ConvMAE has no extra tokens).</summary>
    private static bool CanResize(long[] from, long[] to, out int newGrid)
    {
        newGrid = 0;
        if (from.Length != 3 || to.Length != 3 || from[0] != 1 || to[0] != 1 || from[2] != to[2]) return false;
        if (PosEmbed.SquareRoot(from[1]) is null || PosEmbed.SquareRoot(to[1]) is not int n) return false;
        newGrid = n;
        return true;
    }
}
