using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>Weight initialisation helpers matching the official <c>_init_weights</c> functions.</summary>
internal static class Init
{
    /// <summary>
    /// Every Linear: <paramref name="linearWeight"/> on the full weight, bias 0; every LayerNorm: weight 1, bias 0.
    /// Conv2d layers keep the PyTorch default (kaiming_uniform a=√5, bias U(±1/√fan_in)), as official.
    /// </summary>
    public static void LinearsAndNorms(nn.Module root, Action<Tensor> linearWeight)
    {
        using var _ = no_grad();
        foreach (var (_, m) in root.named_modules())
        {
            switch (m)
            {
                case Linear lin:
                    linearWeight(lin.weight!);
                    if (lin.bias is not null) lin.bias.zero_();
                    break;
                case LayerNorm ln:
                    ln.weight!.fill_(1.0);
                    ln.bias?.zero_();
                    break;
            }
        }
    }

    /// <summary>timm trunc_normal_(std) with absolute cut-offs ±2 (effectively normal(0, std) for std = .02).</summary>
    public static void TruncNormal(Tensor t, double std)
    {
        using var _ = no_grad();
        nn.init.trunc_normal_(t, mean: 0, std: std, a: -2, b: 2);
    }

    /// <summary>xavier_uniform_ of a [out, in, ...] weight seen as [out, in·k·k] ("like nn.Linear").</summary>
    public static void XavierUniformFlat(Tensor w)
    {
        using var _ = no_grad();
        long fanOut = w.shape[0], fanIn = w.numel() / fanOut;
        double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
        w.uniform_(-bound, bound);
    }
}

/// <summary>Counting helpers.</summary>
public static class ModuleStats
{
    /// <summary>Sum of numel over every state_dict tensor (frozen pos tables included), the fixtures' <c>n_params</c>.</summary>
    public static long StateCount(this nn.Module module) => module.state_dict().Values.Sum(t => t.numel());

    /// <summary>Sum of numel over parameters with requires_grad.</summary>
    public static long TrainableCount(this nn.Module module) =>
        module.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
}
