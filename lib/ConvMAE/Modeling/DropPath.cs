using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Stochastic depth per sample (timm 0.3.2 drop_path): in training with p &gt; 0,
/// <c>x / keep · floor(keep + rand(N,1,...,1))</c>; identity in eval or when p = 0. Works on 3-D and 4-D inputs.
/// Each call draws a fresh mask (CBlock/Block use one module for both residual branches, as official).
/// </summary>
public sealed class DropPath : nn.Module<Tensor, Tensor>
{
    public double P { get; }

    public DropPath(double p) : base(nameof(DropPath))
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "drop-path probability must be in [0,1)");
        P = p;
    }

    public override Tensor forward(Tensor x)
    {
        if (!training || P == 0) return x;
        using var scope = NewDisposeScope();
        double keep = 1 - P;
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        shape[0] = x.shape[0];
        var r = (rand(shape, dtype: x.dtype, device: x.device) + keep).floor_();   // [N,1,...,1] of 0/1
        return (x / keep * r).MoveToOuterDisposeScope();
    }
}
