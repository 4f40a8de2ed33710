using ConvMAE.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>
/// Starting a video model from a checkpoint: a VideoConvMAE checkpoint loads key by key (as image finetuning loads a
/// pretraining checkpoint); an IMAGE ConvMAE checkpoint (pretraining or classifier, official or the kit's) is
/// inflated I3D-style: every 2-D kernel [O,I,kh,kw] is replicated over the target's temporal size kt and divided by
/// kt ([O,I,kt,kh,kw]), and pos_embed [1,L_s,E] (resized bicubically when the spatial grid differs) is repeated over
/// the T' time slices. So a clip of identical frames gives the image model's features on that frame (exactly with
/// temporal_padding "replicate"; with "zeros" the first and last slices see kt−1 of kt taps).
/// </summary>
public static class Inflation
{
    /// <summary>True when the state dict holds a 2-D (image) cube embedding.</summary>
    public static bool IsImageStateDict(IReadOnlyDictionary<string, Tensor> source) =>
        source.TryGetValue("patch_embed1.proj.weight", out var w) && w.dim() == 4;

    /// <summary>Loads <paramref name="path"/> into a video model (<see cref="VideoConvViT"/> or
    /// <see cref="VideoMaskedAutoencoder"/>), inflating an image checkpoint. Head and fc_norm may stay missing.</summary>
    public static PretrainedLoadReport LoadPretrained(nn.Module video, string path)
    {
        using var ck = Checkpoints.Read(path);
        if (!IsImageStateDict(ck.StateDict)) return Checkpoints.LoadPretrained(video, ck.StateDict, path, PretrainedLoadOptions.Finetune);
        using var inflated = Inflate(ck.StateDict, video, path, out var notes);
        var report = Checkpoints.LoadPretrained(video, inflated, path, PretrainedLoadOptions.Finetune with
        {
            InterpolatePosEmbed = false,
            // The image pretraining model has no decoder of this shape: its decoder keys are dropped as pretraining-only.
        });
        return report with { Interpolated = report.Interpolated.Concat(notes).ToList() };
    }

    /// <summary>The image state dict with every tensor the video model needs in 3-D shape; other keys pass unchanged
    /// (the loader drops or reports them). <paramref name="inflated"/> lists what changed shape.</summary>
    public static StateDict Inflate(IReadOnlyDictionary<string, Tensor> image, nn.Module video, string sourceName,
                                    out List<InterpolatedKey> inflated)
    {
        var target = video.state_dict();
        var result = new StateDict();
        inflated = [];
        using var scope = NewDisposeScope();
        foreach (var (key, t) in image)
        {
            if (!target.TryGetValue(key, out var want) || want.shape.SequenceEqual(t.shape)) { result.Add(key, t.alias().MoveToOuterDisposeScope()); continue; }
            Tensor? value = null;
            if (t.dim() == 4 && want.dim() == 5 && t.shape[0] == want.shape[0] && t.shape[1] == want.shape[1]
                && t.shape[2] == want.shape[3] && t.shape[3] == want.shape[4])
            {
                long kt = want.shape[2];
                value = t.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt;                   // I3D: replicate over time, ÷ kt
            }
            else if (key == "pos_embed" && t.dim() == 3 && want.dim() == 3 && t.shape[2] == want.shape[2])
            {
                var spatial = t;
                long ls = t.shape[1];
                int? g = PosEmbed.SquareRoot(ls);
                // The target has T'·g'² rows; find g' from the video model's config when it is one of ours.
                int gTarget = video switch
                {
                    VideoConvViT v => v.Config.GridSize,
                    VideoMaskedAutoencoder m => m.Config.GridSize,
                    _ => g ?? 0,
                };
                if (g is null) throw new CheckpointException(sourceName, CheckpointError.KeyMismatch, $"pos_embed {StateDict.FormatShape(t.shape)} is not a square grid");
                if (g != gTarget) spatial = PosEmbed.Interpolate(t, gTarget);
                long slices = want.shape[1] / (gTarget * gTarget);
                value = spatial.repeat(1, slices, 1);                                 // [1,T'·L_s,E], t-major
            }
            if (value is null) { result.Add(key, t.alias().MoveToOuterDisposeScope()); continue; }
            inflated.Add(new InterpolatedKey(key, t.shape, value.shape));
            result.Add(key, value.MoveToOuterDisposeScope());
        }
        return result;
    }
}
