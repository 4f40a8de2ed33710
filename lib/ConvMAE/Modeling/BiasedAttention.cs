using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// softmax(q·kᵀ·hd^-½ + bias)·v when the bias itself needs a gradient (the downstream backbones' trained
/// relative-position tables), without keeping any [B,h,N,N] tensor between forward and backward.
/// <para>Why: libtorch's fused attention has no gradient for its mask, so with a trainable bias it falls back to its
/// explicit form, which keeps the logits and the softmax for the backward: at ConvViTDet's 64×64 global grid that is
/// 2 × 805 MB per global block, 6.4 GB over ConvViTDet's four at 1024², and on these VMs every such fresh allocation
/// also costs its page faults (a global block's forward took 5-6 s, 1.1-2.2 s this way). Here the forward is the fused kernel with the bias passed as a constant mask,
/// and the backward recomputes the softmax a block of query rows at a time (as flash attention does) and returns the
/// bias gradient (the logits' gradient summed over the batch) with the others.</para>
/// Same function as the official explicit form (within float rounding); <see cref="RelPosAttention.BiasGradByRows"/>
/// = false keeps libtorch's path.
/// </summary>
public static class BiasedAttention
{
    /// <param name="q">[B,h,N,d]</param>
    /// <param name="k">[B,h,M,d]</param>
    /// <param name="v">[B,h,M,d]</param>
    /// <param name="bias">[h,N,M], shared by the batch (its gradient is summed over it).</param>
    /// <returns>[B,h,N,d]</returns>
    public static Tensor Apply(Tensor q, Tensor k, Tensor v, Tensor bias)
    {
        if (bias.dim() != 3 || bias.shape[0] != q.shape[1] || bias.shape[1] != q.shape[2] || bias.shape[2] != k.shape[2])
            throw new ArgumentException($"bias: expected [h,N,M] = [{q.shape[1]},{q.shape[2]},{k.shape[2]}], got [{string.Join(",", bias.shape)}]");
        return Function.apply(q, k, v, bias);
    }

    /// <summary>Query rows per backward block: about 8 M logits (32 MB in float32) per temporary.</summary>
    internal static long RowsPerBlock(long batch, long heads, long n, long m) => Math.Min(n, Math.Max(16, LogitsPerBlock / Math.Max(1, batch * heads * m)));

    const long LogitsPerBlock = 1L << 23;

    sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => nameof(BiasedAttention);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (q, k, v, bias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            using var scope = NewDisposeScope();
            // A mask that requires a gradient sends libtorch to its explicit path (even under no_grad): pass it detached.
            var o = nn.functional.scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), attn_mask: bias.detach().unsqueeze(0));   // [B,h,N,d]
            SavedForBackward.Save(ctx, q, k, v, bias, o);
            return o.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var (q, k, v, bias, o) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            using var scope = NewDisposeScope();
            long B = q.shape[0], h = q.shape[1], n = q.shape[2], m = k.shape[2], d = q.shape[3];
            double scale = 1.0 / Math.Sqrt(d);
            // The scale folded into q and k once (small tensors), so no [B,h,c,M] pass applies it.
            var k3 = k.reshape(B * h, m, d); var v3 = v.reshape(B * h, m, d);
            var qs = q.reshape(B * h, n, d) * scale; var ks = k3 * scale;
            var o3 = o.reshape(B * h, n, d); var g3 = gradOutput.reshape(B * h, n, d);
            var kT = k3.transpose(1, 2); var vT = v3.transpose(1, 2);                                   // [Bh,d,M]
            var gradQ = empty(qs.shape, q.dtype, q.device); var gradK = zeros(ks.shape, k.dtype, k.device);   // contiguous, whatever q's strides
            var gradV = zeros(v3.shape, v.dtype, v.device);
            var gradBias = empty_like(bias);                                                            // [h,N,M]
            long rows = RowsPerBlock(B, h, n, m);
            for (long r0 = 0; r0 < n; r0 += rows)
            {
                using var block = NewDisposeScope();
                long r1 = Math.Min(n, r0 + rows), c = r1 - r0;
                var qc = qs.narrow(1, r0, c); var gc = g3.narrow(1, r0, c);                               // [Bh,c,d]
                var biasRows = bias.narrow(1, r0, c);                                                    // [h,c,M]
                if (B > 1) biasRows = biasRows.unsqueeze(0).expand(B, h, c, m).reshape(B * h, c, m);
                var p = qc.matmul(kT).add_(biasRows).softmax(-1);                                          // [Bh,c,M] = softmax(q·kᵀ·scale + bias)
                gradV.add_(p.transpose(1, 2).matmul(gc));                                                // += pᵀ·dO
                var rowDot = (gc * o3.narrow(1, r0, c)).sum(-1, keepdim: true);                          // [Bh,c,1] = Σ dO∘O
                var gradLogits = gc.matmul(vT).sub_(rowDot).mul_(p);                                     // p∘(dO·vᵀ − Σ dO∘O)
                gradQ.narrow(1, r0, c).copy_(gradLogits.matmul(ks));                                     // ·k·scale
                gradK.add_(gradLogits.transpose(1, 2).matmul(qc));                                       // ·q·scale
                gradBias.narrow(1, r0, c).copy_(B == 1 ? gradLogits : gradLogits.view(B, h, c, m).sum(dim: 0));
            }
            var result = new List<Tensor> { gradQ.view(B, h, n, d), gradK.view(B, h, m, d), gradV.view(B, h, m, d), gradBias };
            SavedForBackward.Release(ctx, saved);
            scope.MoveToOuter(result);
            return result;
        }
    }
}
