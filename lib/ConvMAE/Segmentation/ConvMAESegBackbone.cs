using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>
/// The ConvMAE backbone for semantic segmentation, as SEG/backbone/convmae.py builds it for UperNet: stages 1-2 of
/// CBlocks (no masking), stage 3 of transformer blocks with layer scale and a relative-position table each, and a 4th
/// level from a 3×3 stride-2 convolution WITHOUT padding + BatchNorm + GELU (QUIRK: a 32×32 map gives 15×15, not 16×16).
/// Outputs four maps: [B,E0,H/4,W/4], [B,E1,H/8,W/8], [B,E2,H/16,W/16], [B,E2,(H/16−3)/2+1,...]. No final norm.
/// Keys as the official module (patch_embed1..4, pos_embed, blocks1..3, fpn.0/1), so a segmentation checkpoint's
/// backbone.* loads with zero missing and zero unexpected keys. The official SyncBatchNorm is plain BatchNorm here
/// (single process). The official module takes only its configured input size; <see cref="SegBackboneConfig.AnyInputSize"/>
/// lifts that as an extension. Stages 1-2 run channels-last by default (<see cref="SegBackboneConfig.ChannelsLastStages"/>,
/// <see cref="ConvStages"/>).
/// </summary>
public sealed class ConvMAESegBackbone : nn.Module<Tensor, Tensor[]>
{
    public SegBackboneConfig Config { get; }

    [ComponentName(Name = "patch_embed1")] public readonly PatchEmbed PatchEmbed1;
    [ComponentName(Name = "patch_embed2")] public readonly PatchEmbed PatchEmbed2;
    [ComponentName(Name = "patch_embed3")] public readonly PatchEmbed PatchEmbed3;
    [ComponentName(Name = "patch_embed4")] public readonly Linear PatchEmbed4;
    [ComponentName(Name = "pos_embed")] public readonly Parameter? PosEmbed;
    [ComponentName(Name = "pos_drop")] private readonly Dropout posDrop;
    [ComponentName(Name = "blocks1")] public readonly ModuleList<CBlock> Blocks1;
    [ComponentName(Name = "blocks2")] public readonly ModuleList<CBlock> Blocks2;
    [ComponentName(Name = "blocks3")] public readonly ModuleList<SegBlock> Blocks3;
    [ComponentName(Name = "fpn")] public readonly Sequential Fpn;

    public ConvMAESegBackbone(SegBackboneConfig config) : base(nameof(ConvMAESegBackbone))
    {
        var c = Config = config.Validate();
        bool any = c.AnyInputSize;
        PatchEmbed1 = new PatchEmbed(c.ImgSize[0], c.PatchSize[0], c.InChans, c.EmbedDim[0], any);
        PatchEmbed2 = new PatchEmbed(c.ImgSize[1], c.PatchSize[1], c.EmbedDim[0], c.EmbedDim[1], any);
        PatchEmbed3 = new PatchEmbed(c.ImgSize[2], c.PatchSize[2], c.EmbedDim[1], c.EmbedDim[2], any);
        PatchEmbed4 = nn.Linear(c.EmbedDim[2], c.EmbedDim[2]);
        if (c.UseAbsPosEmb) PosEmbed = new Parameter(zeros(1, c.Grid * c.Grid, c.EmbedDim[2]));
        posDrop = nn.Dropout(c.DropRate);
        int total = c.Depth.Sum();
        var dpr = Enumerable.Range(0, total).Select(i => total == 1 ? 0 : c.DropPathRate * i / (total - 1)).ToArray();   // torch.linspace
        int d0 = c.Depth[0], d1 = c.Depth[1];
        Blocks1 = nn.ModuleList(Enumerable.Range(0, d0).Select(i => new CBlock(c.EmbedDim[0], c.MlpRatio[0], c.DropRate, dpr[i])).ToArray());
        Blocks2 = nn.ModuleList(Enumerable.Range(0, d1).Select(i => new CBlock(c.EmbedDim[1], c.MlpRatio[1], c.DropRate, dpr[d0 + i])).ToArray());
        (int, int)? grid = c.UseRelPosBias ? (c.Grid, c.Grid) : null;
        Blocks3 = nn.ModuleList(Enumerable.Range(0, c.Depth[2]).Select(i => new SegBlock(c.EmbedDim[2], c.NumHeads, c.MlpRatio[2], c.QkvBias,
            grid, c.InitValues, c.DropRate, c.AttnDropRate, dpr[d0 + d1 + i], c.LayerNormEps)).ToArray());
        Fpn = nn.Sequential(("0", nn.Conv2d(c.EmbedDim[2], c.EmbedDim[2], 3, stride: 2)),      // QUIRK: no padding
                            ("1", nn.BatchNorm2d(c.EmbedDim[2])),                               // SyncBatchNorm officially
                            ("2", nn.GELU()));
        RegisterComponents();
        InitWeights();
    }

    /// <summary>The official _init_weights + fix_init_weight: Linear trunc_normal(0.02) with zero bias, LayerNorm 1/0,
    /// pos_embed trunc_normal(0.02), then attn.proj and mlp.fc2 of block i divided by √(2(i+1)).</summary>
    void InitWeights()
    {
        using var _ = no_grad();
        if (PosEmbed is not null) Init.TruncNormal(PosEmbed, 0.02);
        Init.LinearsAndNorms(this, w => Init.TruncNormal(w, 0.02));
        for (int i = 0; i < Blocks3.Count; i++)
        {
            Blocks3[i].Attn.Proj.weight!.div_(Math.Sqrt(2.0 * (i + 1)));
            Blocks3[i].Mlp.Fc2.weight!.div_(Math.Sqrt(2.0 * (i + 1)));
        }
    }

    /// <summary>The dtype the model computes in (bfloat16 for a mixed-precision copy).</summary>
    public ScalarType ComputeDtype => PatchEmbed1.Proj.weight!.dtype;

    /// <param name="x">[B,3,H,W] normalised images (float32; cast to the compute dtype).</param>
    /// <returns>The four feature maps, in the compute dtype.</returns>
    public override Tensor[] forward(Tensor x)
    {
        var c = Config;
        if (!c.AnyInputSize && (x.shape[2] != c.InputSize || x.shape[3] != c.InputSize))
            throw new ArgumentException($"images: expected [B,{c.InChans},{c.InputSize},{c.InputSize}] (the backbone's img_size; " +
                                        $"set any_input_size for others), got [{string.Join(",", x.shape)}]");
        using var scope = NewDisposeScope();
        if (x.dtype != ComputeDtype) x = x.to(ComputeDtype);
        var (f0, f1, t, h, w) = ConvStages.Run(x, PatchEmbed1, posDrop, Blocks1, PatchEmbed2, Blocks2, PatchEmbed3, c.ChannelsLastStages);
        long B = t.shape[0];
        t = PatchEmbed4.call(t);                                                // [B,h·w,E2]
        if (PosEmbed is not null) t = t + PositionTable(h, w);
        foreach (var b in Blocks3) t = b.Forward(t, (h, w));
        var f2 = t.permute(0, 2, 1).reshape(B, -1, h, w).contiguous();          // [B,E2,h,w]
        var f3 = Fpn.call(f2);                                                  // [B,E2,(h−3)/2+1,...]
        return [f0.MoveToOuterDisposeScope(), f1.MoveToOuterDisposeScope(), f2.MoveToOuterDisposeScope(), f3.MoveToOuterDisposeScope()];
    }

    /// <summary>pos_embed for an h×w token grid: itself at the configured grid; bicubically resized otherwise (extension).</summary>
    Tensor PositionTable(int h, int w)
    {
        int g = Config.Grid;
        if (h == g && w == g) return PosEmbed!;
        var table = PosEmbed!.reshape(1, g, g, -1).permute(0, 3, 1, 2);
        var resized = nn.functional.interpolate(table, size: [h, w], mode: InterpolationMode.Bicubic, align_corners: false);
        return resized.permute(0, 2, 3, 1).flatten(1, 2);
    }
}
