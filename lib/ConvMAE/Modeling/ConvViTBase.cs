using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// The parts the classifier and the pretraining model share, registered under the official top-level names:
/// pos_embed, patch_embed1..4, blocks1 (CBlock), blocks2 (CBlock), blocks3 (Block). Subclasses call
/// <see cref="RegisterStem"/> and <see cref="RegisterStages"/> where the official constructor creates them, so that
/// state_dict keys come in the official order (own parameters first, then submodules in creation order).
/// Fields also carry [ComponentName] with the same names, so a later RegisterComponents() (TorchSharp calls it when a
/// module is registered as a child) adds nothing.
/// </summary>
public abstract class ConvViTBase<TResult> : nn.Module<Tensor, TResult>
{
    public ConvViTConfig Config { get; }

    [ComponentName(Name = "patch_embed1")] public readonly PatchEmbed PatchEmbed1;
    [ComponentName(Name = "patch_embed2")] public readonly PatchEmbed PatchEmbed2;
    [ComponentName(Name = "patch_embed3")] public readonly PatchEmbed PatchEmbed3;
    /// <summary>Linear(E2,E2) applied after patch_embed3 (QUIRK: the base vision_transformer.ConvViT skips it).</summary>
    [ComponentName(Name = "patch_embed4")] public readonly Linear PatchEmbed4;
    /// <summary>[1,L,E2]: learnable in the classifier, a frozen sin-cos table in pretraining.</summary>
    [ComponentName(Name = "pos_embed")] public readonly Parameter PosEmbed;
    [ComponentName(Name = "blocks1")] public readonly ModuleList<CBlock> Blocks1;
    [ComponentName(Name = "blocks2")] public readonly ModuleList<CBlock> Blocks2;
    [ComponentName(Name = "blocks3")] public readonly ModuleList<Block> Blocks3;

    /// <param name="dpr">Drop-path probability per block over all stages (length d0+d1+d2).</param>
    protected ConvViTBase(string name, ConvViTConfig config, bool learnablePosEmbed, bool qkvBias,
                          double drop, double attnDrop, IReadOnlyList<double> dpr) : base(name)
    {
        var c = Config = config.Validate();
        int e0 = c.EmbedDim[0], e1 = c.EmbedDim[1], e2 = c.EmbedDim[2];
        PatchEmbed1 = new PatchEmbed(c.ImgSize[0], c.PatchSize[0], c.InChans, e0);
        PatchEmbed2 = new PatchEmbed(c.ImgSize[1], c.PatchSize[1], e0, e1);
        PatchEmbed3 = new PatchEmbed(c.ImgSize[2], c.PatchSize[2], e1, e2);
        PatchEmbed4 = nn.Linear(e2, e2);
        PosEmbed = new Parameter(zeros(1, c.NumPatches, e2), requires_grad: learnablePosEmbed);
        register_parameter("pos_embed", PosEmbed);

        int d0 = c.Depth[0], d1 = c.Depth[1];
        Blocks1 = nn.ModuleList(Enumerable.Range(0, d0)
            .Select(i => new CBlock(e0, c.MlpRatio[0], drop, dpr[i])).ToArray());
        Blocks2 = nn.ModuleList(Enumerable.Range(0, d1)
            .Select(i => new CBlock(e1, c.MlpRatio[1], drop, dpr[d0 + i])).ToArray());
        Blocks3 = nn.ModuleList(Enumerable.Range(0, c.Depth[2])
            .Select(i => new Block(e2, c.NumHeads, c.MlpRatio[2], qkvBias, c.QkScale, drop, attnDrop,
                                   dpr[d0 + d1 + i], c.LayerNormEps)).ToArray());
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

    /// <summary>Runs a CBlock stage; <paramref name="visible"/> [N,1,H,W] (1 = visible) or null.</summary>
    protected static Tensor RunConvStage(ModuleList<CBlock> blocks, Tensor x, Tensor? visible)
    {
        foreach (var blk in blocks) x = blk.call(x, visible);
        return x;
    }

    protected static Tensor RunBlocks(IEnumerable<nn.Module<Tensor, Tensor>> blocks, Tensor x) => TokenOps.RunBlocks(blocks, x);

    /// <summary>[N,C,h,w] → [N,h·w,C], token l = row·w + column.</summary>
    protected static Tensor ToTokens(Tensor x) => TokenOps.ToTokens(x);

    /// <summary>The dtype the model computes in: its parameters' (float32, or bfloat16 for a mixed-precision copy).</summary>
    public ScalarType ComputeDtype => PatchEmbed1.Proj.weight!.dtype;

    /// <summary>
    /// Images in the compute dtype. Mixed precision (<see cref="Training.MixedPrecision"/>) runs a bfloat16 copy of
    /// the model on float32 inputs: like autocast, the input is cast on entry and outputs are returned as float32.
    /// </summary>
    protected Tensor ToCompute(Tensor t) => t.dtype == ComputeDtype ? t : t.to(ComputeDtype);

    /// <summary>Checks the input against img_size (the official PatchEmbed assert) with an error naming the tensor.</summary>
    protected void CheckImages(Tensor imgs, string name = "imgs")
    {
        int s = Config.InputSize;
        if (imgs.dim() != 4 || imgs.shape[1] != Config.InChans || imgs.shape[2] != s || imgs.shape[3] != s)
            throw new ArgumentException($"{name}: expected [N,{Config.InChans},{s},{s}] (img_size[0]={s}), got [{string.Join(",", imgs.shape)}]");
    }
}

/// <summary>What the image and the video encoders share on token sequences.</summary>
public static class TokenOps
{
    /// <summary>Runs the blocks in turn.</summary>
    public static Tensor RunBlocks(IEnumerable<nn.Module<Tensor, Tensor>> blocks, Tensor x)
    {
        foreach (var blk in blocks) x = blk.call(x);
        return x;
    }

    /// <summary>[N,C,...] → [N,L,C] with the spatial (or space-time) positions flattened in row-major order
    /// ([N,C,h,w]: l = row·w + col; [N,C,t,h,w]: l = t·h·w + row·w + col).</summary>
    public static Tensor ToTokens(Tensor x) => x.flatten(2).permute(0, 2, 1);
}
