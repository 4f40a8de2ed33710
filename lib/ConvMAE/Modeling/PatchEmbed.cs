using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// vision_transformer.PatchEmbed: strided conv → LayerNorm over channels → GELU. State keys: proj.weight/bias,
/// norm.weight/bias. QUIRK: <c>norm</c> is a plain nn.LayerNorm (eps 1e-5), not norm_layer.
/// </summary>
public sealed class PatchEmbed : nn.Module<Tensor, Tensor>
{
    public int ImgSize { get; }
    public int PatchSize { get; }
    /// <summary>(img/p)², the official <c>num_patches</c>.</summary>
    public int NumPatches => (ImgSize / PatchSize) * (ImgSize / PatchSize);

    [ComponentName(Name = "proj")] public readonly Conv2d Proj;
    [ComponentName(Name = "norm")] public readonly LayerNorm Norm;
    [ComponentName(Name = "act")] private readonly GELU act;

    /// <summary>Accept any input divisible by the patch size (the kit's extension for downstream backbones); the
    /// official module only takes img_size.</summary>
    public bool AnySize { get; }

    public PatchEmbed(int imgSize, int patchSize, int inChans, int embedDim, bool anySize = false) : base(nameof(PatchEmbed))
    {
        ImgSize = imgSize; PatchSize = patchSize; AnySize = anySize;
        Proj = nn.Conv2d(inChans, embedDim, patchSize, stride: patchSize);
        Norm = nn.LayerNorm(embedDim, eps: 1e-5);
        act = nn.GELU();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)   // [N,Cin,H,W] → [N,E,H/p,W/p]
    {
        CheckSize(x, 2, 3, "[N,C,H,W]");
        using var scope = NewDisposeScope();
        var y = Proj.call(x);                                            // [N,E,h,w]
        y = Norm.call(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);        // channel LN in NHWC
        return act.call(y).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same embedding on a channels-last map, [N,H,W,Cin] → [N,H/p,W/p,E] (the downstream backbones' channels-last
    /// stages): one matrix product over the p×p cells, no layout change. Same size rule as <see cref="forward"/>.
    /// </summary>
    public Tensor ForwardChannelsLast(Tensor map)
    {
        CheckSize(map, 1, 2, "[N,H,W,C]");
        return ForwardBlocks(map.contiguous().unsqueeze(1)).squeeze(1);
    }

    void CheckSize(Tensor x, int hDim, int wDim, string layout)
    {
        if (x.dim() != 4 || (AnySize ? x.shape[hDim] % PatchSize != 0 || x.shape[wDim] % PatchSize != 0 : x.shape[hDim] != ImgSize || x.shape[wDim] != ImgSize))
            throw new ArgumentException(AnySize
                ? $"PatchEmbed input: expected {layout} with H and W divisible by {PatchSize}, got [{string.Join(",", x.shape)}]"
                : $"PatchEmbed input: expected {layout} with H = W = {ImgSize} (img_size), got [{string.Join(",", x.shape)}]");
    }

    /// <summary>
    /// The same embedding on channels-last blocks (<see cref="VisibleBlocks"/>): [N,Lk,s,s,Cin] → [N,Lk,s/p,s/p,E].
    /// With kernel = stride each block maps onto whole output positions, so blocks can be embedded on their own.
    /// </summary>
    public Tensor ForwardBlocks(Tensor blocks)
    {
        using var scope = NewDisposeScope();
        var y = Norm.call(VisibleBlocks.StridedConv(Proj, blocks));
        return act.call(y).MoveToOuterDisposeScope();
    }
}
