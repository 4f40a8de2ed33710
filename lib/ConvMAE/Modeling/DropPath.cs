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

    /// <summary>
    /// <c>x + drop_path(branch(x))</c> with the branch computed only for the samples it keeps: [N,...] → [N,...].
    /// A dropped sample's branch output is multiplied by zero in the official form, so computing it is dead work (a
    /// fraction P of each residual branch, 3-10 % of ConvViT-B's blocks in finetuning). The keep mask is drawn exactly
    /// as <see cref="forward"/> draws it (rand of shape [N,1,...,1], one value per sample), and before the branch runs
    /// rather than after. The branch must treat samples independently (every block branch of the kit does: norms,
    /// convolutions, attention within a sample). When every sample is dropped the branch still runs on an empty batch,
    /// so its parameters get zero gradients, as in the official form, rather than none (AdamW skips a parameter
    /// without a gradient: no decay, no moment update).
    /// </summary>
    public Tensor Residual(Tensor x, Func<Tensor, Tensor> branch) => Residual(x, (t, _) => branch(t));

    /// <summary>The same for a branch with a per-sample side input (a visibility mask): it also gets the indices [K] of
    /// the samples it computes, to select their rows of that input, or null when it computes every sample.</summary>
    public Tensor Residual(Tensor x, Func<Tensor, Tensor?, Tensor> branch)
    {
        using var scope = NewDisposeScope();
        if (!training || P == 0) return (x + branch(x, null)).MoveToOuterDisposeScope();
        double keep = 1 - P;
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        shape[0] = x.shape[0];
        var r = (rand(shape, dtype: x.dtype, device: x.device) + keep).floor_();   // [N,1,...,1] of 0/1, as forward draws it
        var kept = r.view(-1).nonzero().view(-1);                                   // [K] sample indices
        if (kept.shape[0] == x.shape[0]) return (x + branch(x, null) / keep).MoveToOuterDisposeScope();
        var y = branch(x.index_select(0, kept), kept) / keep;                        // [K,...]
        return x.index_add(0, kept, y, 1).MoveToOuterDisposeScope();
    }
}
