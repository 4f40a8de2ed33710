using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Convolutional block of stages 1 and 2 (vision_transformer.CBlock), with the masked 5×5 depthwise convolution.
/// State order: norm1, conv1, conv2, attn, norm2, mlp.fc1, mlp.fc2.
/// QUIRKS: the depthwise conv is named <c>attn</c>; norm1/norm2 are plain nn.LayerNorm (eps 1e-5, norm_layer ignored);
/// num_heads/qkv_bias are accepted and ignored by the official code, so they are not parameters here.
/// </summary>
public sealed class CBlock : nn.Module<Tensor, Tensor?, Tensor>
{
    // Fields in the official registration order; [ComponentName] gives the official state_dict names.
    [ComponentName(Name = "norm1")] public readonly LayerNorm Norm1;
    [ComponentName(Name = "conv1")] public readonly Conv2d Conv1;
    [ComponentName(Name = "conv2")] public readonly Conv2d Conv2;
    /// <summary>The depthwise 5×5 conv (QUIRK: named <c>attn</c>).</summary>
    [ComponentName(Name = "attn")] public readonly Conv2d Attn;
    [ComponentName(Name = "drop_path")] public readonly DropPath DropPath;
    [ComponentName(Name = "norm2")] public readonly LayerNorm Norm2;
    [ComponentName(Name = "mlp")] public readonly CMlp Mlp;

    public CBlock(int dim, double mlpRatio = 4.0, double drop = 0, double dropPath = 0) : base(nameof(CBlock))
    {
        Norm1 = nn.LayerNorm(dim, eps: 1e-5);
        Conv1 = nn.Conv2d(dim, dim, 1);
        Conv2 = nn.Conv2d(dim, dim, 1);
        Attn = nn.Conv2d(dim, dim, 5, padding: 2, groups: dim);   // depthwise 5×5
        DropPath = new DropPath(dropPath);
        Norm2 = nn.LayerNorm(dim, eps: 1e-5);
        Mlp = new CMlp(dim, (int)(dim * mlpRatio), drop);
        RegisterComponents();
    }

    /// <param name="x">[N,dim,H,W]</param>
    /// <param name="visible">[N,1,H,W], 1 = visible (the caller passes 1 - upsampled mask), or null for no masking.</param>
    public override Tensor forward(Tensor x, Tensor? visible)
    {
        using var scope = NewDisposeScope();
        // Channel LN in NHWC, then back to a contiguous NCHW tensor before the convolutions. Why contiguous: with the
        // channels-last view, libtorch 2.10 hands the 1×1 convolutions to oneDNN's NHWC kernels, which die with SIGFPE
        // (a division by zero) on CPUs whose cache sizes the machine does not report (seen on this AMD EPYC VM, where
        // /sys has no cache information: ConvMAE-B's 256→1024 MLP crashed the process at any input size).
        var y = Norm1.call(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous();   // [N,dim,H,W]
        y = Conv1.call(y);
        // Masked conv: zero the masked positions AFTER conv1 (bias included) and BEFORE the depthwise conv only.
        // The residual and the MLP branch are not masked (official vision_transformer.py:119).
        if (visible is not null) y = visible * y;
        x = x + DropPath.call(Conv2.call(Attn.call(y)));
        var z = Norm2.call(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous();
        x = x + DropPath.call(Mlp.call(z));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same block without masking on a channels-last map [N,H,W,dim] → [N,H,W,dim] (the classifier's fast form):
    /// the norms act on the last axis, the 1×1 convolutions are matrix products, and the depthwise convolution has the
    /// written-out backward of <see cref="ChannelsLastDepthwise"/>. Same parameters and result as <see cref="forward"/>
    /// with visible = null, without its layout changes (two permute-and-copy passes per block there), and with each
    /// residual branch computed only for the samples drop-path keeps (<see cref="Modeling.DropPath.Residual"/>).
    /// </summary>
    public Tensor ForwardChannelsLast(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = DropPath.Residual(x, t => VisibleBlocks.Pointwise(Conv2, ChannelsLastDepthwise.Apply(Attn, VisibleBlocks.Pointwise(Conv1, Norm1.call(t)))));
        x = DropPath.Residual(x, t => Mlp.ForwardChannelsLast(Norm2.call(t)));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same block on visible blocks only (pretraining's sparse form, <see cref="VisibleBlocks"/>):
    /// [N,Lk,s,s,dim] → [N,Lk,s,s,dim], channels last, so the norms act on the last axis and the 1×1 convolutions are
    /// matrix products. Every position here is visible, so the mask multiply is the identity and is left out.
    /// </summary>
    public Tensor ForwardVisible(Tensor x, VisibleBlocks visible)
    {
        using var scope = NewDisposeScope();
        var y = VisibleBlocks.Pointwise(Conv1, Norm1.call(x));
        y = VisibleBlocks.Pointwise(Conv2, visible.Depthwise(Attn, y));
        x = x + DropPath.call(y);
        x = x + DropPath.call(Mlp.ForwardChannelsLast(Norm2.call(x)));
        return x.MoveToOuterDisposeScope();
    }
}
