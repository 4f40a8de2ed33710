using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>
/// mmseg's BaseDecodeHead (0.11): what every head shares, <c>cls_seg</c> = Dropout2d(dropout_ratio) → conv_seg (1×1,
/// normal(0, 0.01) init), and <see cref="Loss"/>: logits resized bilinearly (align_corners False) to the label size,
/// cross-entropy with ignore_index 255 averaged over ALL pixels (ignored ones count as zero: mmseg 0.11's
/// weight_reduce_loss, before avg_non_ignore existed), times loss_weight.
/// </summary>
public abstract class DecodeHead : nn.Module<Tensor[], Tensor>
{
    public const long IgnoreIndex = 255;
    public int NumClasses { get; }
    public double LossWeight { get; }

    [ComponentName(Name = "conv_seg")] public readonly Conv2d ConvSeg;
    [ComponentName(Name = "dropout")] private readonly Dropout2d dropout;

    protected DecodeHead(string name, int channels, int numClasses, double dropoutRatio, double lossWeight) : base(name)
    {
        NumClasses = numClasses;
        LossWeight = lossWeight;
        ConvSeg = nn.Conv2d(channels, numClasses, 1);
        dropout = nn.Dropout2d(dropoutRatio);
        using var _ = no_grad();
        nn.init.normal_(ConvSeg.weight!, 0, 0.01);
        ConvSeg.bias!.zero_();
    }

    protected Tensor ClsSeg(Tensor x) => ConvSeg.call(dropout.call(x));

    /// <summary>Bilinear resize, align_corners False (mmseg's <c>resize</c>).</summary>
    public static Tensor Resize(Tensor x, long h, long w) =>
        x.shape[2] == h && x.shape[3] == w ? x
        : nn.functional.interpolate(x, size: [h, w], mode: InterpolationMode.Bilinear, align_corners: false);

    /// <param name="logits">[B, K, h, w] this head's output.</param>
    /// <param name="labels">int64 [B, H, W] class indices, 255 = ignore.</param>
    public Tensor Loss(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var up = Resize(logits, labels.shape[1], labels.shape[2]).to(float32);
        var ce = nn.functional.cross_entropy(up, labels, ignore_index: IgnoreIndex, reduction: nn.Reduction.None);   // [B,H,W], 0 where ignored
        return (ce.mean() * LossWeight).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// mmseg's UPerHead: a pyramid pooling module (PPM, pool scales 1/2/3/6) on the last level, lateral 1×1 and FPN 3×3
/// ConvModules on the others, top-down fusion by bilinear upsampling and addition, all levels upsampled to the first
/// and concatenated, fpn_bottleneck 3×3, cls_seg. Keys psp_modules.{i}.1.*, bottleneck.*, lateral_convs.{i}.*,
/// fpn_convs.{i}.*, fpn_bottleneck.*, conv_seg.*.
/// </summary>
public sealed class UPerHead : DecodeHead
{
    readonly int[] poolScales;

    [ComponentName(Name = "psp_modules")] public readonly ModuleList<Sequential> PspModules;
    [ComponentName(Name = "bottleneck")] public readonly ConvModule Bottleneck;
    [ComponentName(Name = "lateral_convs")] public readonly ModuleList<ConvModule> LateralConvs;
    [ComponentName(Name = "fpn_convs")] public readonly ModuleList<ConvModule> FpnConvs;
    [ComponentName(Name = "fpn_bottleneck")] public readonly ConvModule FpnBottleneck;

    public UPerHead(int[] inChannels, int channels, int numClasses, int[]? poolScales = null, double dropoutRatio = 0.1, double lossWeight = 1.0)
        : base(nameof(UPerHead), channels, numClasses, dropoutRatio, lossWeight)
    {
        this.poolScales = poolScales ?? [1, 2, 3, 6];
        int top = inChannels[^1];
        PspModules = nn.ModuleList(this.poolScales.Select(s =>
            nn.Sequential(("0", nn.AdaptiveAvgPool2d(s)), ("1", new ConvModule(top, channels, 1)))).ToArray());
        Bottleneck = new ConvModule(top + this.poolScales.Length * channels, channels, 3, padding: 1);
        LateralConvs = nn.ModuleList(inChannels[..^1].Select(c => new ConvModule(c, channels, 1)).ToArray());
        FpnConvs = nn.ModuleList(inChannels[..^1].Select(_ => new ConvModule(channels, channels, 3, padding: 1)).ToArray());
        FpnBottleneck = new ConvModule(inChannels.Length * channels, channels, 3, padding: 1);
        RegisterComponents();
    }

    /// <param name="inputs">The backbone's levels, finest first.</param>
    /// <returns>[B, K, h0, w0] logits at the first level's resolution.</returns>
    public override Tensor forward(Tensor[] inputs)
    {
        using var scope = NewDisposeScope();
        var laterals = new List<Tensor>();
        for (int i = 0; i < LateralConvs.Count; i++) laterals.Add(LateralConvs[i].call(inputs[i]));
        laterals.Add(PspForward(inputs[^1]));
        // Top-down: each level gets the upsampled coarser one added.
        for (int i = laterals.Count - 1; i > 0; i--)
            laterals[i - 1] = laterals[i - 1] + Resize(laterals[i], laterals[i - 1].shape[2], laterals[i - 1].shape[3]);
        var outs = new List<Tensor>();
        for (int i = 0; i < laterals.Count - 1; i++) outs.Add(FpnConvs[i].call(laterals[i]));
        outs.Add(laterals[^1]);
        for (int i = outs.Count - 1; i > 0; i--) outs[i] = Resize(outs[i], outs[0].shape[2], outs[0].shape[3]);
        var fused = FpnBottleneck.call(cat(outs.ToArray(), 1));
        return ClsSeg(fused).MoveToOuterDisposeScope();
    }

    /// <summary>PPM: each pooled branch upsampled back to the map's size, concatenated with the map, bottleneck.</summary>
    Tensor PspForward(Tensor x)
    {
        var outs = new List<Tensor> { x };
        foreach (var ppm in PspModules) outs.Add(Resize(ppm.call(x), x.shape[2], x.shape[3]));
        return Bottleneck.call(cat(outs.ToArray(), 1));
    }
}

/// <summary>
/// mmseg's FCNHead as the auxiliary head (num_convs 1, kernel 3, concat_input False) on level <see cref="InIndex"/>:
/// convs.0 (ConvModule 3×3) → cls_seg. Keys convs.0.*, conv_seg.*.
/// </summary>
public sealed class FCNHead : DecodeHead
{
    public int InIndex { get; }

    [ComponentName(Name = "convs")] public readonly Sequential Convs;

    public FCNHead(int inChannels, int channels, int numClasses, int inIndex = 2, int numConvs = 1, double dropoutRatio = 0.1, double lossWeight = 0.4)
        : base(nameof(FCNHead), channels, numClasses, dropoutRatio, lossWeight)
    {
        InIndex = inIndex;
        Convs = nn.Sequential(Enumerable.Range(0, numConvs)
            .Select(i => ($"{i}", (nn.Module<Tensor, Tensor>)new ConvModule(i == 0 ? inChannels : channels, channels, 3, padding: 1))).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor[] inputs) => ClsSeg(Convs.call(inputs[InIndex]));
}
