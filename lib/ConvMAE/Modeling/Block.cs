using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Pre-norm transformer block (vision_transformer.Block): x + dp(attn(norm1(x))), then x + dp(mlp(norm2(x))).
/// State order: norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2. Norms use norm_layer's eps.
/// </summary>
public sealed class Block : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "norm1")] public readonly LayerNorm Norm1;
    [ComponentName(Name = "attn")] public readonly Attention Attn;
    [ComponentName(Name = "drop_path")] public readonly DropPath DropPath;
    [ComponentName(Name = "norm2")] public readonly LayerNorm Norm2;
    [ComponentName(Name = "mlp")] public readonly Mlp Mlp;

    public Block(int dim, int numHeads, double mlpRatio = 4.0, bool qkvBias = false, double? qkScale = null,
                 double drop = 0, double attnDrop = 0, double dropPath = 0, double normEps = 1e-5) : base(nameof(Block))
    {
        Norm1 = nn.LayerNorm(dim, eps: normEps);
        Attn = new Attention(dim, numHeads, qkvBias, qkScale, attnDrop, projDrop: drop);
        DropPath = new DropPath(dropPath);
        Norm2 = nn.LayerNorm(dim, eps: normEps);
        Mlp = new Mlp(dim, (int)(dim * mlpRatio), drop);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)   // [B,N,C] → [B,N,C]
    {
        using var scope = NewDisposeScope();
        x = DropPath.Residual(x, t => Attn.call(Norm1.call(t)));
        x = DropPath.Residual(x, t => Mlp.call(Norm2.call(t)));
        return x.MoveToOuterDisposeScope();
    }
}
