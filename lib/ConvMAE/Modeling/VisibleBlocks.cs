using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Stages 1-2 of pretraining computed on the visible positions only (the kit's sparse form; the official code runs
/// every position). A stage-3 token covers an s×s block of a stage map (s = p1·p2 = 4 at stage 1, p2 = 2 at stage 2,
/// p0·p1·p2 = 16 pixels of the image), and in pretraining:
/// <list type="bullet">
/// <item>LayerNorm, the 1×1 convolutions, the MLP, GELU and the residual adds are per position;</item>
/// <item>patch_embed1/2/3 and stage1/2_output_decode have kernel = stride and tile each block exactly;</item>
/// <item>the one operation that mixes positions, the 5×5 depthwise convolution, reads its input multiplied by the
/// visible mask (masked convolution), so masked positions contribute zeros to it.</item>
/// </list>
/// So the visible tokens' latent, the loss and every gradient depend on the visible blocks alone. This class holds a
/// batch's visible blocks in a block-major, channels-last layout <c>[N,Lk,s,s,C]</c> (kept tokens in ids_keep order),
/// runs the pointwise parts as matrix products on it, and builds a zeroed <c>[N,C,g·s,g·s]</c> map only for each
/// depthwise convolution. At mask ratio 0.75 this removes about three quarters of the stage-1/2 work.
/// </summary>
public sealed class VisibleBlocks : IDisposable
{
    private readonly Tensor sample, row, col;   // [N·Lk] int64: the batch index, token row and token column of each kept block
    /// <summary>Batch size N, kept tokens per image Lk, token grid side g.</summary>
    public long Batch { get; }
    public long Kept { get; }
    public int Grid { get; }

    /// <param name="idsKeep">[N,Lk] int64 kept token indices (row·g + col), the order of the output blocks.</param>
    /// <param name="grid">Stage-3 token grid side g.</param>
    public VisibleBlocks(Tensor idsKeep, int grid)
    {
        Batch = idsKeep.shape[0]; Kept = idsKeep.shape[1]; Grid = grid;
        using var scope = NewDisposeScope();
        var flat = idsKeep.reshape(-1);                                                             // [N·Lk]
        sample = arange(Batch, dtype: int64, device: idsKeep.device).repeat_interleave(Kept);     // [N·Lk]
        row = flat.div(grid, rounding_mode: RoundingMode.floor);
        col = flat.remainder(grid);
        scope.MoveToOuter(sample, row, col);
    }

    /// <summary>The same blocks from their index tensors (as saved for a backward pass); the tensors stay the caller's.</summary>
    internal VisibleBlocks(Tensor sample, Tensor row, Tensor col, int grid, long batch)
    {
        (this.sample, this.row, this.col, Grid, Batch) = (sample, row, col, grid, batch);
        Kept = sample.shape[0] / batch;
    }

    /// <summary>[sample, row, col]: the index tensors, each [N·Lk] int64.</summary>
    internal Tensor[] Indices => [sample, row, col];

    /// <summary>Image [N,C,g·T,g·T] → its visible T×T pixel blocks, channels last: [N,Lk,T,T,C].</summary>
    public Tensor PixelBlocks(Tensor imgs)
    {
        using var scope = NewDisposeScope();
        long n = imgs.shape[0], c = imgs.shape[1], t = imgs.shape[2] / Grid;
        var tiles = imgs.view(n, c, Grid, t, Grid, t).permute(0, 2, 4, 3, 5, 1);   // [N,g,g,T,T,C] (a view)
        return Take(tiles).view(n, Kept, t, t, c).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The masked depthwise convolution on visible blocks: [N,Lk,s,s,C] → [N,Lk,s,s,C]. The blocks are placed in a
    /// zeroed map (masked positions = 0, exactly what the dense form's visible·y gives the convolution), the
    /// convolution runs on the whole map, and the visible blocks are read back.
    /// </summary>
    public Tensor Depthwise(Conv2d conv, Tensor blocks)
    {
        var (w, b) = (conv.weight!, conv.bias ?? zeros(conv.weight!.shape[0], dtype: blocks.dtype, device: blocks.device));
        bool needsGrad = is_grad_enabled() && (blocks.requires_grad || w.requires_grad || b.requires_grad);
        return VisibleDepthwise.apply(blocks, w, b, this, needsGrad);
    }

    /// <summary>
    /// Blocks [N,Lk,s,s,C] placed in a zeroed channels-last map [N,g·s,g·s,C] (masked positions 0, exactly what the
    /// dense form's visible·y gives the convolution).
    /// </summary>
    internal Tensor Canvas(Tensor blocks)
    {
        long n = blocks.shape[0], s = blocks.shape[2], c = blocks.shape[4];
        var canvas = zeros([n, Grid, s, Grid, s, c], dtype: blocks.dtype, device: blocks.device);
        canvas.permute(0, 1, 3, 2, 4, 5)                                                            // [N,g,g,s,s,C] (a view)
              .index_put_(blocks.reshape(n * Kept, s, s, c), Index(sample), Index(row), Index(col));
        return canvas.view(n, Grid * s, Grid * s, c);
    }

    /// <summary>Channels-last map [N,g·s,g·s,C] → its visible blocks [N,Lk,s,s,C].</summary>
    internal Tensor Blocks(Tensor map, long s)
    {
        long n = map.shape[0], c = map.shape[3];
        var tiles = map.reshape(n, Grid, s, Grid, s, c).permute(0, 1, 3, 2, 4, 5);                 // [N,g,g,s,s,C]
        return Take(tiles).view(n, Kept, s, s, c);
    }

    /// <summary>[N,g,g,...] → [N·Lk,...]: the kept tokens' entries, in ids_keep order.</summary>
    private Tensor Take(Tensor tiles) => tiles.index(Index(sample), Index(row), Index(col));

    private static TensorIndex Index(Tensor t) => TensorIndex.Tensor(t);

    /// <summary>
    /// A kernel = stride convolution on blocks (patch_embed2/3, stage1/2_output_decode; patch_embed1 on pixel blocks) as
    /// one matrix product: [N,Lk,s,s,Cin] → [N,Lk,s/k,s/k,Cout]. Each k×k cell's values are flattened in the
    /// (channel, row, column) order of the convolution weight [Cout,Cin,k,k]. Blocks may be rectangular
    /// ([N,Lk,h,w,Cin], h and w divisible by k): a whole channels-last map is one block (<see cref="PatchEmbed.ForwardChannelsLast"/>).
    /// </summary>
    public static Tensor StridedConv(Conv2d conv, Tensor blocks) => StridedConv(conv.weight!, conv.bias, blocks);

    /// <summary>The same for a video Conv3d [Cout,Cin,kt,k,k] (see the overload on tensors for the channel order).</summary>
    public static Tensor StridedConv(Conv3d conv, Tensor blocks) => StridedConv(conv.weight!, conv.bias, blocks);

    /// <summary>
    /// The same for a weight [Cout,Cin',...,k,k] whose flattening per output channel matches the blocks' (channel, row,
    /// column) order: a Conv2d's [Cout,Cin,k,k], or a video Conv3d's [Cout,Cin,kt,k,k] on blocks whose Cin·kt channels
    /// are (channel, frame) pairs, channel-major (<see cref="Video.VideoMaskedAutoencoder"/>'s cube embedding).
    /// </summary>
    public static Tensor StridedConv(Tensor w, Tensor? bias, Tensor blocks)
    {
        using var scope = NewDisposeScope();
        long k = w.shape[^1], n = blocks.shape[0], lk = blocks.shape[1], cin = blocks.shape[4];
        long oh = blocks.shape[2] / k, ow = blocks.shape[3] / k;
        var cells = blocks.view(n, lk, oh, k, ow, k, cin).permute(0, 1, 2, 4, 6, 3, 5)          // [N,Lk,oh,ow,Cin,k,k]
                          .reshape(n, lk, oh, ow, cin * k * k);
        return nn.functional.linear(cells, w.view(w.shape[0], -1), bias).MoveToOuterDisposeScope();
    }

    /// <summary>A 1×1 convolution on channels-last blocks: [...,Cin] → [...,Cout] (a Linear with the conv's weights).</summary>
    public static Tensor Pointwise(Conv2d conv, Tensor x) => Pointwise(conv.weight!, conv.bias, x);

    /// <summary>A 1×1×1 convolution (the video CBlock's) on channels-last positions: [...,Cin] → [...,Cout].</summary>
    public static Tensor Pointwise(Conv3d conv, Tensor x) => Pointwise(conv.weight!, conv.bias, x);

    /// <param name="w">[Cout,Cin,1,...,1]</param>
    static Tensor Pointwise(Tensor w, Tensor? bias, Tensor x)
    {
        using var w2 = w.view(w.shape[0], w.shape[1]);
        return nn.functional.linear(x, w2, bias);
    }

    public void Dispose()
    {
        sample.Dispose(); row.Dispose(); col.Dispose();
    }
}
