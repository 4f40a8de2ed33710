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

    /// <summary>
    /// timm 0.3.2 trunc_normal_(mean, std, a = -2, b = 2), absolute cut-offs (so effectively normal(0, std) for
    /// std = .02): uniform in [2·Φ(α)-1, 2·Φ(β)-1], erfinv, ·std·√2, +mean, clamp to [a,b].
    /// Written out because TorchSharp 0.107's nn.init.trunc_normal_ fills wrong values with libtorch 2.10
    /// (for mean 0, std 1 it returns only ±1).
    /// </summary>
    public static void TruncNormal(Tensor t, double std, double mean = 0, double a = -2, double b = 2)
    {
        using var _ = no_grad();
        double lo = 2 * NormCdf((a - mean) / std) - 1, hi = 2 * NormCdf((b - mean) / std) - 1;
        t.uniform_(lo, hi).erfinv_().mul_(std * Math.Sqrt(2.0)).add_(mean).clamp_(a, b);
    }

    /// <summary>Φ(x) = (1 + erf(x/√2)) / 2 in float64.</summary>
    private static double NormCdf(double x)
    {
        using var v = tensor(x / Math.Sqrt(2.0), float64);
        using var e = v.erf();
        return (1.0 + e.item<double>()) / 2.0;
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
