using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>
/// The parts the video classifier and the video pretraining model share, under the image model's top-level names
/// (pos_embed, patch_embed1..4, blocks1, blocks2, blocks3), so an image checkpoint maps onto them key by key:
/// patch_embed1 is the 2×4×4 cube embedding, patch_embed2/3 are 1×2×2, blocks1/2 are <see cref="CBlock3D"/>,
/// blocks3 the image <see cref="Block"/> (joint space-time attention).
/// </summary>
public abstract class VideoConvViTBase<TResult> : nn.Module<Tensor, TResult>
{
    public VideoConvMAEConfig Config { get; }

    [ComponentName(Name = "patch_embed1")] public readonly PatchEmbed3D PatchEmbed1;
    [ComponentName(Name = "patch_embed2")] public readonly PatchEmbed3D PatchEmbed2;
    [ComponentName(Name = "patch_embed3")] public readonly PatchEmbed3D PatchEmbed3;
    [ComponentName(Name = "patch_embed4")] public readonly Linear PatchEmbed4;
    /// <summary>[1,L,E2]: learnable in the classifier, VideoMAE's fixed sinusoid table in pretraining.</summary>
    [ComponentName(Name = "pos_embed")] public readonly Parameter PosEmbed;
    [ComponentName(Name = "blocks1")] public readonly ModuleList<CBlock3D> Blocks1;
    [ComponentName(Name = "blocks2")] public readonly ModuleList<CBlock3D> Blocks2;
    [ComponentName(Name = "blocks3")] public readonly ModuleList<Block> Blocks3;

    protected VideoConvViTBase(string name, VideoConvMAEConfig config, bool learnablePosEmbed, double drop, double attnDrop,
                               IReadOnlyList<double> dpr) : base(name)
    {
        var c = Config = config.Validate();
        int e0 = c.EmbedDim[0], e1 = c.EmbedDim[1], e2 = c.EmbedDim[2];
        PatchEmbed1 = new PatchEmbed3D(c.TubeletSize, c.PatchSize[0], c.InChans, e0);
        PatchEmbed2 = new PatchEmbed3D(1, c.PatchSize[1], e0, e1);
        PatchEmbed3 = new PatchEmbed3D(1, c.PatchSize[2], e1, e2);
        PatchEmbed4 = nn.Linear(e2, e2);
        PosEmbed = new Parameter(zeros(1, c.NumPatches, e2), requires_grad: learnablePosEmbed);
        register_parameter("pos_embed", PosEmbed);
        int d0 = c.Depth[0], d1 = c.Depth[1];
        Blocks1 = nn.ModuleList(Enumerable.Range(0, d0)
            .Select(i => new CBlock3D(e0, c.MlpRatio[0], c.DwKernelT, c.ReplicatePadding, drop, dpr[i])).ToArray());
        Blocks2 = nn.ModuleList(Enumerable.Range(0, d1)
            .Select(i => new CBlock3D(e1, c.MlpRatio[1], c.DwKernelT, c.ReplicatePadding, drop, dpr[d0 + i])).ToArray());
        Blocks3 = nn.ModuleList(Enumerable.Range(0, c.Depth[2])
            .Select(i => new Block(e2, c.NumHeads, c.MlpRatio[2], c.QkvBias, null, drop, attnDrop, dpr[d0 + d1 + i], c.LayerNormEps)).ToArray());
    }

    protected void RegisterStem()
    {
        register_module("patch_embed1", PatchEmbed1);
        register_module("patch_embed2", PatchEmbed2);
        register_module("patch_embed3", PatchEmbed3);
        register_module("patch_embed4", PatchEmbed4);
    }

    protected void RegisterStages()
    {
        register_module("blocks1", Blocks1);
        register_module("blocks2", Blocks2);
        register_module("blocks3", Blocks3);
    }

    /// <summary>A stage of CBlocks: [N,C,T',H,W] → [N,C,T',H,W], visible [N,1,1,H,W] or null; channels last inside
    /// when <see cref="VideoConvMAEConfig.ChannelsLastStages"/> (one layout copy each way per stage).</summary>
    protected Tensor RunConvStage(ModuleList<CBlock3D> blocks, Tensor x, Tensor? visible)
    {
        if (!Config.ChannelsLastStages || blocks.Count == 0)
        {
            foreach (var blk in blocks) x = blk.call(x, visible);
            return x;
        }
        using var scope = NewDisposeScope();
        var xl = x.permute(0, 2, 3, 4, 1);                                                           // [N,T',H,W,C]
        var vl = visible?.reshape(visible.shape[0], 1, visible.shape[3], visible.shape[4], 1);      // [N,1,H,W,1]
        foreach (var blk in blocks) xl = blk.ForwardChannelsLast(xl, vl);
        // Contiguous NCDHW for the Conv3d that follows (its channels-last path is avoided, as in CBlock3D.forward).
        return xl.permute(0, 4, 1, 2, 3).contiguous().MoveToOuterDisposeScope();
    }

    protected static Tensor RunBlocks(IEnumerable<nn.Module<Tensor, Tensor>> blocks, Tensor x) => TokenOps.RunBlocks(blocks, x);

    /// <summary>[N,C,T',g,g] → [N,T'·g·g,C], token index t·g² + row·g + col.</summary>
    protected static Tensor ToTokens(Tensor x) => TokenOps.ToTokens(x);

    /// <summary>The dtype the model computes in (its parameters'): float32, or bfloat16 for a mixed-precision copy.</summary>
    public ScalarType ComputeDtype => PatchEmbed1.Proj.weight!.dtype;
    protected Tensor ToCompute(Tensor t) => t.dtype == ComputeDtype ? t : t.to(ComputeDtype);

    /// <summary>Checks a batch of clips against the config, naming the tensor.</summary>
    protected void CheckClips(Tensor clips, string name = "clips")
    {
        var c = Config;
        if (clips.dim() != 5 || clips.shape[1] != c.InChans || clips.shape[2] != c.NumFrames || clips.shape[3] != c.ImgSize || clips.shape[4] != c.ImgSize)
            throw new ArgumentException($"{name}: expected [N,{c.InChans},{c.NumFrames},{c.ImgSize},{c.ImgSize}] (num_frames, img_size), " +
                                        $"got [{string.Join(",", clips.shape)}]");
    }

    /// <summary>Drop-path schedule: linspace(0, drop_path_rate, sum(depth)) over all blocks, as the image classifier.</summary>
    protected static double[] DropPathSchedule(VideoConvMAEConfig c, double rate)
    {
        int total = c.Depth.Sum();
        if (total == 0) return [];
        using var t = linspace(0, rate, total, dtype: float32);
        return t.data<float>().Select(v => (double)v).ToArray();
    }
}
