using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

public class PretrainModelTests
{
    [Fact]
    public void Patchify_orders_row_col_channel_and_unpatchify_inverts_it()
    {
        using var _ = NewDisposeScope();
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAETinyCpu);   // 64 px, p = 16, 4×4 tokens
        manual_seed(9);
        var imgs = randn(2, 3, 64, 64);
        var patches = model.Patchify(imgs);
        Assert.Equal([2L, 16L, 768L], patches.shape);
        // token (hi, wi), in-patch (p, q), channel c  ↔  imgs[n, c, 16·hi + p, 16·wi + q]
        foreach (var (n, hi, wi, p, q, c) in new[] { (0, 0, 0, 0, 0, 0), (1, 2, 3, 5, 11, 2), (0, 3, 1, 15, 0, 1) })
            Assert.Equal(imgs[n, c, 16 * hi + p, 16 * wi + q].item<float>(),
                         patches[n, hi * 4 + wi, (p * 16 + q) * 3 + c].item<float>());
        Assert.True(model.Unpatchify(patches).eq(imgs).all().item<bool>());
    }

    [Theory]
    [InlineData(32)]
    [InlineData(80)]
    [InlineData(112)]
    public void Any_input_divisible_by_16_runs_forward_and_backward(int pixels)
    {
        using var _ = NewDisposeScope();
        var cfg = (ConvViTConfig.ConvMAETinyCpu with { MaskRatio = 0.5 }).WithInputSize(pixels);
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(cfg);
        int L = (pixels / 16) * (pixels / 16), kept = (int)(L * 0.5);
        var (loss, pred, mask) = model.call(randn(2, 3, pixels, pixels));
        Assert.Equal([2L, L, 768L], pred.shape);
        Assert.Equal([2L, L], mask.shape);
        Assert.Equal(2.0 * (L - kept), mask.sum().item<float>());
        Assert.True(float.IsFinite(loss.item<float>()));
        loss.backward();
        Assert.NotNull(model.PatchEmbed1.Proj.weight!.grad);
        Assert.Null(model.PosEmbed.grad);
    }

    [Fact]
    public void Forward_draws_its_noise_from_torch_manual_seed()
    {
        using var _ = NewDisposeScope();
        var cfg = ConvViTConfig.ConvMAETinyCpu;
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(cfg);
        model.eval();
        var imgs = randn(2, 3, 64, 64);
        manual_seed(42);
        using var a = model.call(imgs);
        manual_seed(42);
        var noise = rand(2, 16);   // what the official random_masking draws: torch.rand(N, L)
        using var b = model.Forward(imgs, noise);
        Assert.True(a.Mask.eq(b.Mask).all().item<bool>());
        Assert.True(a.Loss.eq(b.Loss).all().item<bool>());
        manual_seed(43);
        using var c = model.call(imgs);
        Assert.False(a.Mask.eq(c.Mask).all().item<bool>());
    }

    [Fact]
    public void A_given_mask_is_used_as_is()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAETinyCpu);
        model.eval();
        var mask = ones(1, 16);
        mask[0, 0] = 0; mask[0, 5] = 0; mask[0, 10] = 0; mask[0, 15] = 0;   // keep the diagonal
        using var plan = Masking.FromMask(mask);
        using var output = model.Forward(randn(1, 3, 64, 64), plan);
        Assert.True(output.Mask.eq(mask).all().item<bool>());
        Assert.Equal([1L, 4L, 128L], output.Latent.shape);
        // the loss only counts removed patches: perfect predictions there give zero loss whatever the kept ones hold
        var imgs = randn(1, 3, 64, 64);
        var target = model.Target(imgs);
        var pred = target * mask.unsqueeze(-1) + 100 * (1 - mask.unsqueeze(-1));
        Assert.Equal(0f, model.ForwardLoss(imgs, pred, mask).item<float>());
    }

    [Fact]
    public void Wrong_input_sizes_name_the_tensor()
    {
        using var _ = NewDisposeScope();
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAETinyCpu);
        var e = Assert.Throws<ArgumentException>(() => model.call(randn(1, 3, 80, 80)));
        Assert.Contains("imgs", e.Message);
        Assert.Throws<ArgumentException>(() => model.Forward(randn(1, 3, 64, 64), rand(1, 17)));
    }
}
