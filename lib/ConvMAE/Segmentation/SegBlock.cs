using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>
/// Transformer block of the downstream backbones: SEG/backbone/convmae.py Block (pre-norm attention with its own
/// relative-position table and layer scale) and, without table and layer scale, DET/models/convmae.py Block (the bias
/// comes from the backbone's shared tables): x + dp(γ1·attn(norm1(x))), then x + dp(γ2·mlp(norm2(x))). Keys norm1,
/// attn.{qkv, relative_position_bias_table, relative_position_index, proj}, norm2, mlp.fc1/fc2, gamma_1, gamma_2.
/// </summary>
public sealed class SegBlock : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "norm1")] public readonly LayerNorm Norm1;
    [ComponentName(Name = "attn")] public readonly RelPosAttention Attn;
    [ComponentName(Name = "drop_path")] public readonly DropPath DropPath;
    [ComponentName(Name = "norm2")] public readonly LayerNorm Norm2;
    [ComponentName(Name = "mlp")] public readonly Mlp Mlp;
    [ComponentName(Name = "gamma_1")] public readonly Parameter? Gamma1;
    [ComponentName(Name = "gamma_2")] public readonly Parameter? Gamma2;

    public SegBlock(int dim, int numHeads, double mlpRatio, bool qkvBias, (int H, int W)? tableGrid, double? initValues,
                    double drop, double attnDrop, double dropPath, double normEps) : base(nameof(SegBlock))
    {
        Norm1 = nn.LayerNorm(dim, eps: normEps);
        Attn = new RelPosAttention(dim, numHeads, qkvBias, tableGrid, attnDrop, drop);
        DropPath = new DropPath(dropPath);
        Norm2 = nn.LayerNorm(dim, eps: normEps);
        Mlp = new Mlp(dim, (int)(dim * mlpRatio), drop);
        if (initValues is { } v)
        {
            Gamma1 = new Parameter(full(dim, v));
            Gamma2 = new Parameter(full(dim, v));
        }
        RegisterComponents();
    }

    /// <param name="x">[B, N, C] tokens of the grid <paramref name="grid"/>.</param>
    /// <param name="bias">A relative-position bias [heads, N, N] given by the caller (the detection backbone's shared
    /// tables), or null.</param>
    public Tensor Forward(Tensor x, (int H, int W) grid, Tensor? bias = null)
    {
        using var scope = NewDisposeScope();
        var a = Attn.Forward(Norm1.call(x), bias, grid);
        x = x + DropPath.call(Gamma1 is null ? a : Gamma1 * a);
        var m = Mlp.call(Norm2.call(x));
        x = x + DropPath.call(Gamma2 is null ? m : Gamma2 * m);
        return x.MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x) => throw new InvalidOperationException("SegBlock needs its token grid: call Forward(x, grid)");
}
