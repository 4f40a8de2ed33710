using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>
/// The image PatchEmbed with a 3-D kernel: Conv3d (kernel = stride = (kt, p, p)) → channel LayerNorm (eps 1e-5) → GELU.
/// Keys proj.weight [E,Cin,kt,p,p], proj.bias, norm.weight/bias (the image keys, so an image checkpoint inflates).
/// </summary>
public sealed class PatchEmbed3D : nn.Module<Tensor, Tensor>
{
    public int TemporalPatch { get; }
    public int PatchSize { get; }
    [ComponentName(Name = "proj")] public readonly Conv3d Proj;
    [ComponentName(Name = "norm")] public readonly LayerNorm Norm;
    [ComponentName(Name = "act")] private readonly GELU act;

    public PatchEmbed3D(int temporalPatch, int patchSize, int inChans, int embedDim) : base(nameof(PatchEmbed3D))
    {
        TemporalPatch = temporalPatch; PatchSize = patchSize;
        Proj = nn.Conv3d(inChans, embedDim, (temporalPatch, patchSize, patchSize), stride: (temporalPatch, patchSize, patchSize));
        Norm = nn.LayerNorm(embedDim, eps: 1e-5);
        act = nn.GELU();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)   // [N,Cin,T,H,W] → [N,E,T/kt,H/p,W/p]
    {
        if (x.dim() != 5 || x.shape[2] % TemporalPatch != 0 || x.shape[3] % PatchSize != 0 || x.shape[4] % PatchSize != 0)
            throw new ArgumentException($"PatchEmbed3D input: expected [N,C,T,H,W] with T divisible by {TemporalPatch} and H, W by {PatchSize}, " +
                                        $"got [{string.Join(",", x.shape)}]");
        using var scope = NewDisposeScope();
        var y = Proj.call(x);
        y = Norm.call(y.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3);   // channel LN in NDHWC
        return act.call(y).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same on visible blocks (pretraining's sparse form): [N·T',Lk,s,s,Cin·kt] → [N·T',Lk,s/p,s/p,E], the kernel
    /// tiling each block exactly. With kt &gt; 1 (the cube embedding) a block's channels are (channel, frame) pairs of
    /// the slice's kt frames, channel-major, which is the order of the weight [E,Cin,kt,p,p] flattened.
    /// </summary>
    public Tensor ForwardBlocks(Tensor blocks)
    {
        using var scope = NewDisposeScope();
        var y = Norm.call(VisibleBlocks.StridedConv(Proj, blocks));
        return act.call(y).MoveToOuterDisposeScope();
    }
}

/// <summary>The CBlock's convolutional MLP in 3-D: 1×1×1 convs fc1 → GELU → drop → fc2 → drop.</summary>
public sealed class CMlp3D : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")] public readonly Conv3d Fc1;
    [ComponentName(Name = "act")] private readonly GELU act;
    [ComponentName(Name = "fc2")] public readonly Conv3d Fc2;
    [ComponentName(Name = "drop")] private readonly Dropout drop;

    public CMlp3D(int inFeatures, int hidden, double drop = 0) : base(nameof(CMlp3D))
    {
        Fc1 = nn.Conv3d(inFeatures, hidden, 1);
        act = nn.GELU();
        Fc2 = nn.Conv3d(hidden, inFeatures, 1);
        this.drop = nn.Dropout(drop);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return drop.call(Fc2.call(drop.call(act.call(Fc1.call(x))))).MoveToOuterDisposeScope();
    }

    /// <summary>The same on channels-last positions [...,C] → [...,C], the 1×1×1 convolutions as matrix products.</summary>
    public Tensor ForwardChannelsLast(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = drop.call(act.call(VisibleBlocks.Pointwise(Fc1, x)));   // [...,hidden]
        return drop.call(VisibleBlocks.Pointwise(Fc2, h)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The image CBlock on [N,C,T',H,W]: the same keys (norm1, conv1, conv2, attn, norm2, mlp.fc1/fc2), with 1×1×1
/// pointwise convolutions and a depthwise (kt×5×5) convolution named <c>attn</c> as the image quirk. The masked
/// convolution zeroes masked positions after conv1 and before the depthwise conv only, as the image model does.
/// </summary>
public sealed class CBlock3D : nn.Module<Tensor, Tensor?, Tensor>
{
    readonly int kt;
    readonly bool replicate;
    [ComponentName(Name = "norm1")] public readonly LayerNorm Norm1;
    [ComponentName(Name = "conv1")] public readonly Conv3d Conv1;
    [ComponentName(Name = "conv2")] public readonly Conv3d Conv2;
    [ComponentName(Name = "attn")] public readonly Conv3d Attn;
    [ComponentName(Name = "drop_path")] public readonly DropPath DropPath;
    [ComponentName(Name = "norm2")] public readonly LayerNorm Norm2;
    [ComponentName(Name = "mlp")] public readonly CMlp3D Mlp;

    public CBlock3D(int dim, double mlpRatio, int dwKernelT, bool replicateTime, double drop = 0, double dropPath = 0) : base(nameof(CBlock3D))
    {
        kt = dwKernelT;
        replicate = replicateTime && dwKernelT > 1;
        Norm1 = nn.LayerNorm(dim, eps: 1e-5);
        Conv1 = nn.Conv3d(dim, dim, 1);
        Conv2 = nn.Conv3d(dim, dim, 1);
        // Replicate padding of time is done by hand in forward (space stays zero-padded), so the conv pads space only.
        Attn = nn.Conv3d(dim, dim, (dwKernelT, 5, 5), padding: (replicate ? 0 : dwKernelT / 2, 2, 2), groups: dim);
        DropPath = new DropPath(dropPath);
        Norm2 = nn.LayerNorm(dim, eps: 1e-5);
        Mlp = new CMlp3D(dim, (int)(dim * mlpRatio), drop);
        RegisterComponents();
    }

    /// <param name="x">[N,dim,T',H,W]</param>
    /// <param name="visible">[N,1,1,H,W] (1 = visible, the same in every slice: tube masking) or null.</param>
    public override Tensor forward(Tensor x, Tensor? visible)
    {
        using var scope = NewDisposeScope();
        // Contiguous NCDHW before the convolutions (see the image CBlock: oneDNN's channels-last path crashes here).
        var y = Norm1.call(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3).contiguous();
        y = Conv1.call(y);
        if (visible is not null) y = visible * y;
        if (replicate) y = nn.functional.pad(y, [0, 0, 0, 0, kt / 2, kt / 2], PaddingModes.Replicate);
        x = x + DropPath.call(Conv2.call(Attn.call(y)));
        var z = Norm2.call(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3).contiguous();
        x = x + DropPath.call(Mlp.call(z));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same block on a channels-last map (the kit's default, <see cref="VideoConvMAEConfig.ChannelsLastStages"/>):
    /// the norms act on the last axis, the 1×1×1 convolutions are matrix products, the depthwise convolution is
    /// <see cref="ChannelsLastDepthwise3D"/> (written-out backward), and a sample that drop path removes is not computed
    /// (<see cref="DropPath.Residual"/>, which draws the same masks as <see cref="DropPath.forward"/>).
    /// </summary>
    /// <param name="x">[N,T',H,W,dim]</param>
    /// <param name="visible">[N,1,H,W,1] (1 = visible, broadcast over time and channels) or null.</param>
    public Tensor ForwardChannelsLast(Tensor x, Tensor? visible)
    {
        using var scope = NewDisposeScope();
        x = DropPath.Residual(x, (t, kept) =>
        {
            var y = VisibleBlocks.Pointwise(Conv1, Norm1.call(t));               // [K,T',H,W,dim] (K: the samples computed)
            if (visible is not null) y = y * (kept is null ? visible : visible.index_select(0, kept));
            return VisibleBlocks.Pointwise(Conv2, ChannelsLastDepthwise3D.Apply(Attn, y, replicate));
        });
        x = DropPath.Residual(x, t => Mlp.ForwardChannelsLast(Norm2.call(t)));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same block on visible blocks only (pretraining's sparse form, see <see cref="VisibleBlocks"/>): x is
    /// [N·T',Lk,s,s,dim], sample n's slice t at row n·T' + t, each slice holding the same kept blocks (tube masking).
    /// The depthwise convolution runs on the zero-filled map [N,T',H,W,dim] (masked positions 0, exactly the dense
    /// form's visible·y, edge-replicated in time the same way) and is read back at the visible blocks.
    /// </summary>
    public Tensor ForwardVisible(Tensor x, VisibleBlocks visible, long timeSlices)
    {
        // Drop path would draw one mask per row (per slice) here instead of per clip; pretraining has none.
        if (training && DropPath.P > 0) throw new InvalidOperationException("the sparse video stages do not support drop path (pretraining uses none)");
        using var scope = NewDisposeScope();
        long s = x.shape[2], c = x.shape[4];
        var y = VisibleBlocks.Pointwise(Conv1, Norm1.call(x));                               // [N·T',Lk,s,s,C]
        var map = visible.Canvas(y);                                                          // [N·T',H,W,C]
        var conv = ChannelsLastDepthwise3D.Apply(Attn, map.view(-1, timeSlices, map.shape[1], map.shape[2], c), replicate);
        y = VisibleBlocks.Pointwise(Conv2, visible.Blocks(conv.view(map.shape), s));
        x = x + y;
        x = x + Mlp.ForwardChannelsLast(Norm2.call(x));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Tube masking (VideoMAE's TubeMaskingGenerator): one spatial mask of the g×g grid, repeated over every time slice.
/// Drawn from torch.rand noise [N,L_s] (small noise = kept), so the loop's per-step seed fixes it.
/// </summary>
public static class TubeMasking
{
    /// <summary>
    /// Plan over all L = T'·L_s tokens (index t·L_s + s): Mask [N,L] (1 = removed), IdsKeep [N,T'·Lk] (time-major,
    /// spatial order of the noise ranking within each slice), IdsRestore [N,L] (the inverse of cat(IdsKeep, IdsMasked)).
    /// Also returns the spatial mask [N,L_s] and the masked ids [N,T'·(L_s−Lk)].
    /// </summary>
    public static (MaskPlan Plan, Tensor SpatialMask, Tensor IdsMasked) FromNoise(Tensor noise, int timeSlices, int keptPerSlice)
    {
        if (noise.dim() != 2) throw new ArgumentException($"noise: expected [N,L_s], got [{string.Join(",", noise.shape)}]");
        using var scope = NewDisposeScope();
        long n = noise.shape[0], ls = noise.shape[1];
        var order = noise.argsort(1);                                            // [N,L_s], kept first
        var offsets = (arange(timeSlices, dtype: int64, device: noise.device) * ls).view(1, timeSlices, 1);   // [1,T',1]
        Tensor Expand(Tensor spatialIds) => (spatialIds.unsqueeze(1) + offsets).reshape(n, -1);              // [N,T'·k]
        var idsKeep = Expand(order[.., ..keptPerSlice]);
        var idsMasked = Expand(order[.., keptPerSlice..]);
        var keep = order[.., ..keptPerSlice];
        var spatial = ones(n, ls, dtype: float32, device: noise.device).scatter_(1, keep, zeros(keep.shape, dtype: float32, device: noise.device));
        var mask = spatial.repeat(1, timeSlices);                                // [N,L], t-major
        var idsRestore = cat([idsKeep, idsMasked], 1).argsort(1);
        var plan = new MaskPlan(idsKeep.contiguous(), mask, idsRestore).MoveToOuterDisposeScope();
        return (plan, spatial.MoveToOuterDisposeScope(), idsMasked.contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>Spatial mask [N,L_s] (g×g, 1 = removed) → [N,1,1,g·f,g·f] nearest ×f, broadcast over time.</summary>
    public static Tensor Upsample(Tensor spatialMask, int grid, int factor)
    {
        using var scope = NewDisposeScope();
        return Masking.Upsample(spatialMask, grid, factor).unsqueeze(2).MoveToOuterDisposeScope();
    }
}

/// <summary>VideoMAE's get_sinusoid_encoding_table: angle(p, j) = p / 10000^(2·⌊j/2⌋/d), sin on even j, cos on odd j.</summary>
public static class SinusoidTable
{
    /// <summary>[n, d] float32 (computed in float64 as the numpy original).</summary>
    public static Tensor Create(int positions, int dim)
    {
        var table = new float[positions * dim];
        for (int p = 0; p < positions; p++)
            for (int j = 0; j < dim; j++)
            {
                double angle = p / Math.Pow(10000.0, 2 * (j / 2) / (double)dim);
                table[p * dim + j] = (float)(j % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle));
            }
        return tensor(table, [positions, dim]);
    }
}
