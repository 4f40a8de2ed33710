using ConvMAE.Modeling;
using ConvMAE.Segmentation;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>
/// The detection backbone as DET/models/convmae.py ConvViTDet: two stages of CBlocks (strides 4, 8), then
/// patch_embed3 + the linear patch_embed4 + pos_embed and transformer blocks on the stride-16 grid, some with global
/// attention biased by <c>global_rel_pos_bias</c> (a table over the whole grid), the others within non-overlapping
/// windows biased by the one shared <c>windowed_rel_pos_bias</c>. Outputs s0 [B,E0,H/4,W/4], s1 [B,E1,H/8,W/8],
/// s2 [B,E2,H/16,W/16] and s3 = 2×2 max-pool of s2. No final norm (the official sets norm, head and cls_token to None).
/// Stages 1-2 run channels-last by default (<see cref="DetBackboneConfig.ChannelsLastStages"/>, <see cref="ConvStages"/>).
/// Keys as the official module, so an official detection checkpoint's backbone.bottom_up.* loads one to one.
/// </summary>
public sealed class ConvViTDet : nn.Module<Tensor, Tensor[]>
{
    public DetBackboneConfig Config { get; }

    [ComponentName(Name = "patch_embed1")] public readonly PatchEmbed PatchEmbed1;
    [ComponentName(Name = "patch_embed2")] public readonly PatchEmbed PatchEmbed2;
    [ComponentName(Name = "patch_embed3")] public readonly PatchEmbed PatchEmbed3;
    [ComponentName(Name = "patch_embed4")] public readonly Linear PatchEmbed4;
    [ComponentName(Name = "pos_embed")] public readonly Parameter PosEmbed;
    [ComponentName(Name = "pos_drop")] private readonly Dropout posDrop;
    [ComponentName(Name = "blocks1")] public readonly ModuleList<CBlock> Blocks1;
    [ComponentName(Name = "blocks2")] public readonly ModuleList<CBlock> Blocks2;
    [ComponentName(Name = "blocks3")] public readonly ModuleList<SegBlock> Blocks3;
    [ComponentName(Name = "windowed_rel_pos_bias")] public readonly RelativePositionBias WindowedRelPosBias;
    [ComponentName(Name = "global_rel_pos_bias")] public readonly RelativePositionBias GlobalRelPosBias;

    public ConvViTDet(DetBackboneConfig config) : base(nameof(ConvViTDet))
    {
        var c = Config = config.Validate();
        PatchEmbed1 = new PatchEmbed(c.ImgSize[0], c.PatchSize[0], c.InChans, c.EmbedDim[0]);
        PatchEmbed2 = new PatchEmbed(c.ImgSize[1], c.PatchSize[1], c.EmbedDim[0], c.EmbedDim[1]);
        PatchEmbed3 = new PatchEmbed(c.ImgSize[2], c.PatchSize[2], c.EmbedDim[1], c.EmbedDim[2]);
        PatchEmbed4 = nn.Linear(c.EmbedDim[2], c.EmbedDim[2]);
        PosEmbed = new Parameter(zeros(1, c.Grid * c.Grid, c.EmbedDim[2]), requires_grad: !c.SincosPosEmbed);
        posDrop = nn.Dropout(c.DropRate);
        int total = c.Depth.Sum(), d0 = c.Depth[0], d1 = c.Depth[1];
        var dpr = Enumerable.Range(0, total).Select(i => total == 1 ? 0 : c.DropPathRate * i / (total - 1)).ToArray();   // torch.linspace
        Blocks1 = nn.ModuleList(Enumerable.Range(0, d0).Select(i => new CBlock(c.EmbedDim[0], c.MlpRatio[0], c.DropRate, dpr[i])).ToArray());
        Blocks2 = nn.ModuleList(Enumerable.Range(0, d1).Select(i => new CBlock(c.EmbedDim[1], c.MlpRatio[1], c.DropRate, dpr[d0 + i])).ToArray());
        Blocks3 = nn.ModuleList(Enumerable.Range(0, c.Depth[2]).Select(i => new SegBlock(c.EmbedDim[2], c.NumHeads, c.MlpRatio[2], c.QkvBias,
            tableGrid: null, initValues: null, c.DropRate, c.AttnDropRate, dpr[d0 + d1 + i], c.LayerNormEps)).ToArray());
        WindowedRelPosBias = new RelativePositionBias(c.WindowSize, c.WindowSize, c.NumHeads);
        GlobalRelPosBias = new RelativePositionBias(c.Grid, c.Grid, c.NumHeads);
        RegisterComponents();
        InitWeights();
    }

    /// <summary>The official ConvViT init: Linear trunc_normal(0.02) with zero bias, LayerNorm 1/0, pos_embed
    /// trunc_normal(0.02); convolutions keep PyTorch's default here (the official lecun_normal only matters before
    /// a checkpoint is loaded). QUIRK: fix_init_weight is defined but never called by ConvViTDet.</summary>
    void InitWeights()
    {
        using var _ = no_grad();
        Init.TruncNormal(PosEmbed, 0.02);
        Init.LinearsAndNorms(this, w => Init.TruncNormal(w, 0.02));
    }

    public ScalarType ComputeDtype => PatchEmbed1.Proj.weight!.dtype;

    /// <param name="x">[B,3,H,W] normalised images, H = W = img_size[0].</param>
    /// <returns>s0..s3 in the compute dtype.</returns>
    public override Tensor[] forward(Tensor x)
    {
        var c = Config;
        if (x.shape[2] != c.InputSize || x.shape[3] != c.InputSize)
            throw new ArgumentException($"images: expected [B,{c.InChans},{c.InputSize},{c.InputSize}] (the backbone's img_size), " +
                                        $"got [{string.Join(",", x.shape)}]");
        using var scope = NewDisposeScope();
        if (x.dtype != ComputeDtype) x = x.to(ComputeDtype);
        var (s0, s1, t, g, _) = ConvStages.Run(x, PatchEmbed1, posDrop, Blocks1, PatchEmbed2, Blocks2, PatchEmbed3, c.ChannelsLastStages);
        long B = t.shape[0];
        t = PatchEmbed4.call(t) + PosEmbed;                                  // [B,g²,E2]
        var global = GlobalRelPosBias.Bias().to(t.dtype);                    // [heads,g²,g²]
        var windowed = WindowedRelPosBias.Bias().to(t.dtype);                // [heads,w²,w²]
        int ws = c.WindowSize;
        bool inWindows = false;
        for (int i = 0; i < Blocks3.Count; i++)
        {
            bool isGlobal = c.GlobalBlocks.Contains(i);
            if (isGlobal && inWindows) { t = Unpartition(t, B, g, ws); inWindows = false; }
            if (!isGlobal && !inWindows) { t = Partition(t, g, ws); inWindows = true; }
            t = Blocks3[i].Forward(t, isGlobal ? (g, g) : (ws, ws), isGlobal ? global : windowed);
        }
        if (inWindows) t = Unpartition(t, B, g, ws);
        var s2 = t.permute(0, 2, 1).reshape(B, -1, g, g).contiguous();      // [B,E2,g,g]
        var s3 = nn.functional.max_pool2d(s2, 2);                           // ms_adaptor[3] = MaxPool2d(2)
        return [s0.MoveToOuterDisposeScope(), s1.MoveToOuterDisposeScope(), s2.MoveToOuterDisposeScope(), s3.MoveToOuterDisposeScope()];
    }

    /// <summary>[B, g·g, C] row-major → [B·(g/ws)², ws·ws, C]: windows in (batch, window row, window column) order,
    /// tokens row-major within each (einops "b (h h1) (w w1) c -> (b h w) (h1 w1) c").</summary>
    static Tensor Partition(Tensor t, int g, int ws)
    {
        long B = t.shape[0], C = t.shape[2];
        int n = g / ws;
        return t.view(B, n, ws, n, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(B * n * n, ws * ws, C);
    }

    /// <summary>The inverse of <see cref="Partition"/>.</summary>
    static Tensor Unpartition(Tensor t, long B, int g, int ws)
    {
        long C = t.shape[2];
        int n = g / ws;
        return t.view(B, n, n, ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(B, g * g, C);
    }
}
