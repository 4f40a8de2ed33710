using ConvMAE.Modeling;
using ConvMAE.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>
/// The sparse form of stages 1-2 (visible blocks only, <see cref="VisibleBlocks"/>) against the official dense form:
/// same weights, same images, same random masks → the same latent, prediction, loss and gradient of every parameter.
/// </summary>
public class SparseStagesTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0.5, true)]
    [InlineData(0.75, true)]
    [InlineData(0.9, true)]
    [InlineData(0.75, false)]   // without multi-scale fusion the decode convs drop out of both forms
    public void Sparse_and_dense_forms_agree_on_outputs_loss_and_gradients(double maskRatio, bool fusion)
    {
        using var _ = NewDisposeScope();
        // The small preset at 160 px: 10×10 tokens, two CBlocks per conv stage, visible blocks next to each other and to
        // the border, so the depthwise convolution's halo crosses block edges and the padding.
        var cfg = (ConvViTConfig.ConvMAESmallCpu with { MaskRatio = maskRatio, MultiScaleFusion = fusion, NormPixLoss = true })
            .WithInputSize(160);
        manual_seed(3);
        using var sparse = new MaskedAutoencoderConvViT(cfg with { SparseStages = true });
        using var dense = new MaskedAutoencoderConvViT(cfg with { SparseStages = false });
        dense.load_state_dict(sparse.state_dict());
        Assert.True(sparse.UsesSparseStages);
        Assert.False(dense.UsesSparseStages);

        var imgs = randn(3, 3, 160, 160);
        var noise = rand(3, cfg.NumPatches);
        using var a = sparse.Forward(imgs, noise);
        using var b = dense.Forward(imgs, noise);
        var checks = new List<Check>
        {
            Compare.Exact("mask", a.Mask, b.Mask),
            Compare.Close("latent", a.Latent, b.Latent, 1e-5),
            Compare.Close("pred", a.Pred, b.Pred, 1e-5),
            Compare.RelScalar("loss", a.Loss, b.Loss, 1e-6),
        };
        a.Loss.backward();
        b.Loss.backward();
        var denseParams = dense.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int compared = 0;
        foreach (var (name, p) in sparse.named_parameters())
        {
            var q = denseParams[name];
            if (!p.requires_grad) continue;
            if (p.grad is null || q.grad is null)
            {
                checks.Add(new Check(p.grad is null == q.grad is null, $"{name}: gradient present in sparse {p.grad is not null}, dense {q.grad is not null}"));
                continue;
            }
            checks.Add(Compare.Close("grad." + name, p.grad, q.grad, 1e-4));
            compared++;
        }
        Compare.AssertAll(output, checks);
        // Every stage-1/2 parameter took part (a form that skipped a block would leave its gradients out).
        Assert.True(compared >= sparse.parameters().Count(p => p.requires_grad) - (fusion ? 0 : 4), $"only {compared} gradients compared");
    }

    [Fact]
    public void Without_masked_convolution_the_dense_form_is_used()
    {
        // Masked positions reach visible tokens through an unmasked depthwise convolution: the sparse form would be wrong.
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAETinyCpu with { MaskedConv = false, SparseStages = true });
        Assert.False(model.UsesSparseStages);
    }

    [Fact]
    public void Visible_blocks_come_out_in_ids_keep_order()
    {
        using var _ = NewDisposeScope();
        // A 2×2 token grid of 2×2-pixel tokens, one channel; pixel value = 10·token + position in the block.
        var img = tensor(new float[]
        {
            0, 1, 10, 11,
            2, 3, 12, 13,
            20, 21, 30, 31,
            22, 23, 32, 33,
        }).view(1, 1, 4, 4);
        var ids = tensor(new long[] { 3, 0 }).view(1, 2);
        using var visible = new VisibleBlocks(ids, grid: 2);
        var blocks = visible.PixelBlocks(img);                           // [1,2,2,2,1]
        Assert.Equal([1L, 2L, 2L, 2L, 1L], blocks.shape);
        Assert.Equal(new float[] { 30, 31, 32, 33, 0, 1, 2, 3 }, blocks.data<float>().ToArray());
    }
}
