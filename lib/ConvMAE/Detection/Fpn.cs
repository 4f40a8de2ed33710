using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>
/// detectron2's layers.Conv2d: a convolution whose own keys are weight/bias, with an optional norm submodule
/// (<c>norm</c>, BatchNorm here for the official SyncBN/NaiveSyncBN: a single process computes plain BatchNorm) and an
/// optional ReLU. Without a norm it has a bias; with one it has none, as detectron2's builders set it.
/// </summary>
public sealed class D2Conv : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] public readonly Parameter Weight;
    [ComponentName(Name = "bias")] public readonly Parameter? Bias;
    [ComponentName(Name = "norm")] public readonly BatchNorm2d? Norm;
    readonly bool relu;
    readonly long padding, stride;

    public D2Conv(int inChannels, int outChannels, int kernel, bool norm, bool relu, int stride = 1, int? padding = null)
        : base(nameof(D2Conv))
    {
        Weight = new Parameter(empty(outChannels, inChannels, kernel, kernel));
        if (!norm) Bias = new Parameter(zeros(outChannels));
        if (norm) Norm = nn.BatchNorm2d(outChannels);
        this.relu = relu;
        this.stride = stride;
        this.padding = padding ?? kernel / 2;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var y = nn.functional.conv2d(x, Weight, Bias, strides: [stride, stride], padding: [padding, padding]);
        if (Norm is not null) y = Norm.call(y);
        return relu ? nn.functional.relu(y) : y;
    }

    /// <summary>fvcore's c2_xavier_fill: kaiming_uniform with a = 1 (Caffe2's XavierFill), bias 0.</summary>
    public void XavierFill()
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(Weight, a: 1);
        Bias?.zero_();
    }

    /// <summary>fvcore's c2_msra_fill: kaiming_normal fan_out for ReLU, bias 0.</summary>
    public void MsraFill()
    {
        using var _ = no_grad();
        nn.init.kaiming_normal_(Weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        Bias?.zero_();
    }
}

/// <summary>
/// detectron2's FPN over ConvViTDet (in_features s0..s3, strides 4..32): per level a 1×1 lateral and a 3×3 output
/// conv with norm (keys fpn_lateral{2..5}, fpn_output{2..5}), top-down sum with 2× nearest upsampling, and the
/// LastLevelMaxPool top block (p6 = max_pool kernel 1 stride 2 of p5). The backbone is the submodule
/// <c>bottom_up</c>, so keys read backbone.bottom_up.* and backbone.fpn_* as in an official checkpoint.
/// </summary>
public sealed class FpnBackbone : nn.Module<Tensor, Tensor[]>
{
    [ComponentName(Name = "bottom_up")] public readonly ConvViTDet BottomUp;
    readonly D2Conv[] laterals, outputs;

    public FpnBackbone(ConvViTDet bottomUp, int outChannels) : base(nameof(FpnBackbone))
    {
        BottomUp = bottomUp;
        var inChannels = bottomUp.Config.OutChannels;
        var strides = bottomUp.Config.OutStrides;
        laterals = new D2Conv[4];
        outputs = new D2Conv[4];
        for (int i = 0; i < 4; i++)
        {
            int stage = (int)Math.Log2(strides[i]);
            laterals[i] = new D2Conv(inChannels[i], outChannels, 1, norm: true, relu: false);
            outputs[i] = new D2Conv(outChannels, outChannels, 3, norm: true, relu: false);
            register_module($"fpn_lateral{stage}", laterals[i]);
            register_module($"fpn_output{stage}", outputs[i]);
            laterals[i].XavierFill();
            outputs[i].XavierFill();
        }
        RegisterComponents();
    }

    /// <summary>The strides of p2..p6.</summary>
    public int[] Strides => [.. BottomUp.Config.OutStrides, 2 * BottomUp.Config.OutStrides[3]];

    /// <param name="x">[B,3,S,S] normalised images.</param>
    /// <returns>p2..p6, each [B, out_channels, S/stride, S/stride].</returns>
    public override Tensor[] forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var s = BottomUp.call(x);
        var results = new Tensor[5];
        var prev = laterals[3].call(s[3]);
        results[3] = outputs[3].call(prev);
        for (int i = 2; i >= 0; i--)
        {
            var topDown = nn.functional.interpolate(prev, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
            prev = laterals[i].call(s[i]) + topDown;
            results[i] = outputs[i].call(prev);
        }
        results[4] = nn.functional.max_pool2d(results[3], kernel_size: 1, stride: 2);
        foreach (var r in results) r.MoveToOuterDisposeScope();
        return results;
    }
}
