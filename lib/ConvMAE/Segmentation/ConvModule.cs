using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>
/// mmcv's ConvModule as mmseg's heads use it (norm_cfg BatchNorm, act_cfg ReLU): conv (no bias, because a norm
/// follows: bias='auto') → bn → ReLU. Keys conv.weight, bn.{weight, bias, running_mean, running_var,
/// num_batches_tracked}. Initialised as mmcv does: kaiming normal (fan_out, relu) for the conv, 1/0 for the norm.
/// The official config uses SyncBN; a single process computes plain BatchNorm.
/// </summary>
public sealed class ConvModule : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv")] public readonly Conv2d Conv;
    [ComponentName(Name = "bn")] public readonly BatchNorm2d Bn;
    [ComponentName(Name = "activate")] private readonly ReLU act;

    public ConvModule(int inChannels, int outChannels, int kernel, int padding = 0) : base(nameof(ConvModule))
    {
        Conv = nn.Conv2d(inChannels, outChannels, kernel, padding: padding, bias: false);
        Bn = nn.BatchNorm2d(outChannels);
        act = nn.ReLU();
        RegisterComponents();
        using var _ = no_grad();
        nn.init.kaiming_normal_(Conv.weight!, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
    }

    public override Tensor forward(Tensor x) => act.call(Bn.call(Conv.call(x)));
}
