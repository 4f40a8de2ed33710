using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// The masked depthwise convolution of the sparse stages as one autograd function: visible blocks [N,Lk,s,s,C] in,
/// the convolution's output at the visible blocks out. The forward is libtorch's depthwise convolution on the zeroed
/// channels-last map. The backward is written out because libtorch's own is slow on CPU (its weight gradient took
/// 200-450 ms per 56×56×256 map at batch 8 here, several times the forward) and computes what the sparse form never
/// needs: gradients at masked positions. Here
/// <list type="bullet">
/// <item>input gradient: the transposed convolution (the flipped kernel on the zero-filled output gradient, libtorch's
/// fast forward kernel), read at the visible blocks only — masked inputs are constant zeros;</item>
/// <item>weight gradient: Σ over outputs p of grad[p,c]·input[p+tap,c] for each of the k² taps, by
/// <see cref="DepthwiseWeightGrad"/> on the zero-filled maps (output gradients are zero at masked positions, so they
/// add nothing; the loop over the whole map took less time than gathering each tap's visible rows did);</item>
/// <item>bias gradient: the output gradient summed over the visible positions.</item>
/// </list>
/// The tests compare it with the dense official form (outputs, loss and every gradient).
/// </summary>
internal sealed class VisibleDepthwise : torch.autograd.SingleTensorFunction<VisibleDepthwise>
{
    public override string Name => nameof(VisibleDepthwise);

    /// <param name="vars">blocks [N,Lk,s,s,C], weight [C,1,k,k], bias [C], the <see cref="VisibleBlocks"/>, and whether a
    /// gradient can flow (decided by the caller: inside forward, libtorch has switched gradients off).</param>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var (blocks, weight, bias, visible) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (VisibleBlocks)vars[3]);
        long s = blocks.shape[2];
        using var scope = NewDisposeScope();
        var map = visible.Canvas(blocks);                                                           // [N,H,W,C]
        var output = visible.Blocks(ChannelsLastDepthwise.Convolve(map, weight, bias), s);          // [N,Lk,s,s,C]
        // The index tensors are saved as copies (their VisibleBlocks is disposed after the encoder's forward). Nothing
        // is saved when no gradient can flow (evaluation).
        if ((bool)vars[4])
        {
            SavedForBackward.Save(ctx, [map, weight, .. visible.Indices.Select(t => t.clone())]);
            ctx.save_data("grid", visible.Grid);
            ctx.save_data("batch", visible.Batch);
        }
        return output.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (map, weight) = (saved[0], saved[1]);
        var visible = new VisibleBlocks(saved[2], saved[3], saved[4], (int)ctx.get_data("grid"), (long)ctx.get_data("batch"));
        long c = map.shape[3], s = gradOutput.shape[2];
        using var scope = NewDisposeScope();
        var g = gradOutput.contiguous();                                                            // [N,Lk,s,s,C]
        // The dense form's gradients on the zero-filled maps (ChannelsLastDepthwise.Gradients): masked output gradients
        // are zero, so they add nothing to the weight gradient; the input gradient is read at the visible blocks only.
        var gMap = visible.Canvas(g);                                                               // [N,H,W,C]
        var (gIn, gradWeight) = ChannelsLastDepthwise.Gradients(map, weight, gMap);
        var gradBlocks = visible.Blocks(gIn, s);
        var gradBias = g.view(-1, c).sum(dim: 0);                                                        // [C]
        SavedForBackward.Release(ctx, saved);
        scope.MoveToOuter(gradBlocks, gradWeight, gradBias);
        return [gradBlocks, gradWeight, gradBias, null!, null!];   // one entry per forward argument; none for the non-tensors
    }
}
