using ConvMAE.Modeling;
using ConvMAE.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>
/// <see cref="BiasedAttention"/> (fused forward, backward recomputed by blocks of query rows) against the official
/// explicit form softmax(q·kᵀ·hd^-½ + bias)·v on every output and gradient, the bias's included; and the attention
/// module that uses it against libtorch's path.
/// </summary>
public class BiasedAttentionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, 3, 20, 20, 8)]     // one backward block
    [InlineData(4, 4, 1500, 1500, 16)] // five blocks of 349 rows, the last one 104
    [InlineData(1, 4, 37, 53, 8)]     // keys ≠ queries
    public void Matches_the_explicit_form(int batch, int heads, int n, int m, int d)
    {
        using var _ = NewDisposeScope();
        manual_seed(n + m);
        var (q0, k0, v0) = (randn(batch, heads, n, d), randn(batch, heads, m, d), randn(batch, heads, m, d));
        var bias0 = randn(heads, n, m);
        var grad = randn(batch, heads, n, d);

        var (q, k, v, bias) = (q0.requires_grad_(true), k0.requires_grad_(true), v0.requires_grad_(true), bias0.requires_grad_(true));
        var o = BiasedAttention.Apply(q, k, v, bias);
        autograd.backward([o], [grad]);

        var (qe, ke, ve, be) = (q0.detach().requires_grad_(true), k0.detach().requires_grad_(true), v0.detach().requires_grad_(true), bias0.detach().requires_grad_(true));
        var expected = (qe.matmul(ke.transpose(-2, -1)) * Math.Pow(d, -0.5) + be).softmax(-1).matmul(ve);   // the official order
        autograd.backward([expected], [grad]);

        var checks = new[]
        {
            Compare.Close("output", o, expected, 1e-5), Compare.Close("grad q", q.grad!, qe.grad!, 1e-4),
            Compare.Close("grad k", k.grad!, ke.grad!, 1e-4), Compare.Close("grad v", v.grad!, ve.grad!, 1e-4),
            Compare.Close("grad bias", bias.grad!, be.grad!, 1e-4),
        };
        Compare.AssertAll(output, checks);
    }

    [Fact]
    public void Runs_a_bf16_model()
    {
        // Under --dtype bf16 the compute copy's q, k, v and bias are bf16: gradients come back in bf16, close to float32's.
        using var _ = NewDisposeScope();
        manual_seed(21);
        var (q0, k0, v0, bias0, grad) = (randn(2, 3, 40, 16), randn(2, 3, 40, 16), randn(2, 3, 40, 16), randn(3, 40, 40), randn(2, 3, 40, 16));
        Tensor[] Run(ScalarType dtype)
        {
            var inputs = new[] { q0, k0, v0, bias0 }.Select(t => t.to(dtype).requires_grad_(true)).ToArray();
            var o = BiasedAttention.Apply(inputs[0], inputs[1], inputs[2], inputs[3]);
            autograd.backward([o], [grad.to(dtype)]);
            return [o, .. inputs.Select(t => t.grad!)];
        }
        var half = Run(bfloat16);
        var full = Run(float32);
        Assert.All(half, t => Assert.Equal(ScalarType.BFloat16, t.dtype));
        string[] names = ["output", "grad q", "grad k", "grad v", "grad bias"];
        var checks = names.Select((nm, i) => Compare.Close(nm, half[i].to(float32), full[i], 3e-2)).ToList();
        Compare.AssertAll(output, checks);
    }

    [Fact]
    public void Splits_long_rows_into_blocks()
    {
        // 8 M logits per block: ConvViTDet's global attention (12 heads over 4,096 tokens) runs 170 query rows at a time.
        Assert.Equal(170, BiasedAttention.RowsPerBlock(1, 12, 4096, 4096));
        Assert.Equal(16, BiasedAttention.RowsPerBlock(64, 12, 4096, 4096));   // never fewer than 16 rows
        Assert.Equal(20, BiasedAttention.RowsPerBlock(2, 3, 20, 20));         // never more than there are
        Assert.Equal(4, BiasedAttention.RowsPerBlock(64, 12, 4, 4096));       // even when there are fewer than 16
    }

    [Fact]
    public void The_attention_module_gives_libtorchs_results_with_a_trained_table()
    {
        using var _ = NewDisposeScope();
        manual_seed(9);
        var attn = new RelPosAttention(32, 4, qkvBias: true, ownTableGrid: (6, 7));
        using (no_grad()) attn.Table!.normal_(0, 0.5);                       // a trained table, not the zero init
        var given = randn(4, 42, 42).requires_grad_(true);                     // the detection backbone's shared bias
        var x = randn(3, 42, 32);
        var grad = randn(3, 42, 32);

        Tensor[] Run(bool byRows)
        {
            attn.BiasGradByRows = byRows;
            attn.zero_grad();
            given.grad?.zero_();
            var xi = x.detach().requires_grad_(true);
            autograd.backward([attn.Forward(xi, given)], [grad]);
            return [xi.grad!.clone(), attn.Table!.grad!.clone(), attn.Qkv.weight!.grad!.clone(), given.grad!.clone()];
        }
        var a = Run(true);
        var b = Run(false);
        string[] names = ["grad x", "grad table", "grad qkv.weight", "grad given bias"];
        var checks = names.Select((nm, i) => Compare.Close(nm, a[i], b[i], 1e-4)).ToList();
        Compare.AssertAll(output, checks);
        Assert.True(a[1].abs().sum().item<float>() > 0);
    }
}
