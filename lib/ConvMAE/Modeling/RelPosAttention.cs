using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Multi-head self-attention with relative-position bias, as the downstream backbones' Attention (SEG/backbone and
/// DET/models convmae.py): softmax(q·kᵀ·hd^-½ + B_own + B_given)·v. B_own is this block's own table over the token
/// grid (segmentation: <c>relative_position_bias_table</c> and <c>relative_position_index</c> registered on the
/// attention itself); B_given is a bias the caller passes (detection: the shared global or windowed table).
/// qkv keeps one bias vector (nn.Linear(dim, 3·dim, bias=qkv_bias)). Runs the fused
/// <c>scaled_dot_product_attention</c> with the bias as an additive mask (same result within float tolerance); when
/// the bias is trained, through <see cref="BiasedAttention"/>.
/// </summary>
public sealed class RelPosAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    public int NumHeads { get; }
    /// <summary>The grid the own table was built for (0×0 without one).</summary>
    public (int H, int W) TableGrid { get; }
    /// <summary>With a trainable bias (and no attention dropout), run <see cref="BiasedAttention"/>: the fused forward
    /// and a backward that recomputes the softmax by blocks of query rows, so no [B,h,N,N] tensor is kept for the
    /// backward. false: libtorch's path, which falls back to the explicit form and keeps them.</summary>
    public bool BiasGradByRows { get; set; } = true;

    [ComponentName(Name = "qkv")] public readonly Linear Qkv;
    [ComponentName(Name = "relative_position_bias_table")] public readonly Parameter? Table;
    [ComponentName(Name = "relative_position_index")] public readonly Tensor? Index;
    [ComponentName(Name = "attn_drop")] private readonly Dropout attnDrop;
    [ComponentName(Name = "proj")] public readonly Linear Proj;
    [ComponentName(Name = "proj_drop")] private readonly Dropout projDrop;
    readonly double attnDropP;
    readonly Dictionary<(int, int), Tensor> smallerGridIndex = [];

    public RelPosAttention(int dim, int numHeads, bool qkvBias, (int H, int W)? ownTableGrid, double attnDrop = 0, double projDrop = 0)
        : base(nameof(RelPosAttention))
    {
        if (dim % numHeads != 0) throw new ArgumentException($"num_heads={numHeads} must divide dim={dim}");
        NumHeads = numHeads;
        attnDropP = attnDrop;
        Qkv = nn.Linear(dim, 3 * dim, hasBias: qkvBias);
        if (ownTableGrid is { } g)
        {
            TableGrid = g;
            Table = new Parameter(zeros(RelativePosition.TableSize(g.H, g.W), numHeads));   // zero at init, as official
            Index = RelativePosition.Index(g.H, g.W, g.H, g.W);
        }
        this.attnDrop = nn.Dropout(attnDrop);
        Proj = nn.Linear(dim, dim);
        this.projDrop = nn.Dropout(projDrop);
        RegisterComponents();
    }

    /// <param name="x">[B, N, C] tokens of an h×w grid (row-major).</param>
    /// <param name="bias">[heads, N, N] (or broadcastable) added to the logits, or null.</param>
    /// <param name="grid">The token grid (h, w); needed only when it is smaller than the own table's (the kit's
    /// extension: the table is indexed at the offsets that grid has).</param>
    public Tensor Forward(Tensor x, Tensor? bias, (int H, int W)? grid = null)
    {
        using var scope = NewDisposeScope();
        long B = x.shape[0], N = x.shape[1], C = x.shape[2];
        var qkv = Qkv.call(x).reshape(B, N, 3, NumHeads, C / NumHeads).permute(2, 0, 3, 1, 4);   // [3,B,h,N,hd]
        Tensor q = qkv[0], k = qkv[1], v = qkv[2];
        Tensor? total = bias;
        if (Table is not null)
        {
            var own = RelativePosition.Bias(Table, OwnIndex(N, grid));                            // [h,N,N]
            total = total is null ? own : own + total;
        }
        double dropP = training ? attnDropP : 0.0;
        var mask = total?.to(q.dtype);                                                              // [h,N,N]
        var o = BiasGradByRows && dropP == 0 && mask is not null && mask.requires_grad && is_grad_enabled()
            ? BiasedAttention.Apply(q, k, v, mask)
            : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask?.unsqueeze(0), p: dropP);   // [B,h,N,hd]
        o = o.transpose(1, 2).reshape(B, N, C);
        return projDrop.call(Proj.call(o)).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x, Tensor? bias) => Forward(x, bias);

    Tensor OwnIndex(long n, (int H, int W)? grid)
    {
        if (n == (long)TableGrid.H * TableGrid.W && (grid is null || grid == TableGrid)) return Index!;
        var g = grid ?? throw new ArgumentException($"{n} tokens do not form the {TableGrid.H}×{TableGrid.W} grid of the relative-position table; pass the grid");
        if (!smallerGridIndex.TryGetValue(g, out var idx))
            smallerGridIndex[g] = idx = RelativePosition.Index(g.H, g.W, TableGrid.H, TableGrid.W).DetachFromDisposeScope();
        return idx;
    }
}
