using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>Each ablation switch changes what it claims to change, comparing models with identical weights.</summary>
public class AblationTests
{
    static readonly ConvViTConfig Cfg = ConvViTConfig.ConvMAETinyCpu;

    static MaskedAutoencoderConvViT Twin(MaskedAutoencoderConvViT source, ConvViTConfig cfg)
    {
        var m = new MaskedAutoencoderConvViT(cfg);
        m.load_state_dict(source.state_dict());
        m.eval();
        return m;
    }

    [Fact]
    public void Without_fusion_the_stage_decoders_get_no_gradient_and_the_latent_changes()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var on = new MaskedAutoencoderConvViT(Cfg);
        on.eval();
        using var off = Twin(on, Cfg with { MultiScaleFusion = false });
        var imgs = randn(2, 3, 64, 64);
        var noise = rand(2, 16);
        using var a = on.Forward(imgs, noise);
        using var b = off.Forward(imgs, noise);
        Assert.True(a.Mask.eq(b.Mask).all().item<bool>());
        Assert.True((a.Latent - b.Latent).abs().max().item<float>() > 1e-3);
        a.Loss.backward();
        b.Loss.backward();
        Assert.NotNull(on.Stage1OutputDecode.weight!.grad);
        Assert.True(on.Stage1OutputDecode.weight!.grad!.abs().sum().item<float>() > 0);
        Assert.True(on.Stage2OutputDecode.weight!.grad!.abs().sum().item<float>() > 0);
        Assert.Null(off.Stage1OutputDecode.weight!.grad);
        Assert.Null(off.Stage2OutputDecode.weight!.grad);
        Assert.True(off.PatchEmbed4.weight!.grad!.abs().sum().item<float>() > 0);
        // the key set stays the official one either way
        Assert.Equal(on.state_dict().Keys, off.state_dict().Keys);
    }

    [Theory]
    [InlineData(0.5, 8)]
    [InlineData(0.75, 4)]
    [InlineData(0.9, 1)]    // 16·0.1 = 1.6 → 1
    [InlineData(0.0, 16)]
    public void Mask_ratio_sets_the_number_of_kept_tokens(double ratio, int kept)
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(Cfg with { MaskRatio = ratio });
        model.eval();
        using var output = model.call(randn(3, 3, 64, 64));
        Assert.Equal([3L, kept, 128L], output.Latent.shape);
        Assert.Equal(3.0 * (16 - kept), output.Mask.sum().item<float>());
        using var other = model.Forward(randn(3, 3, 64, 64), rand(3, 16), maskRatio: 0.25);   // per-call override
        Assert.Equal(12, other.Latent.shape[1]);
    }

    [Fact]
    public void Norm_pix_loss_normalises_the_target_per_patch()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var raw = new MaskedAutoencoderConvViT(Cfg with { NormPixLoss = false });
        using var norm = Twin(raw, Cfg with { NormPixLoss = true });
        var imgs = randn(2, 3, 64, 64) * 3 + 1;
        var patches = raw.Patchify(imgs);
        Assert.True(raw.Target(imgs).eq(patches).all().item<bool>());
        var t = norm.Target(imgs);
        Assert.True(t.mean([-1]).abs().max().item<float>() < 1e-5);
        // unbiased variance (÷ 767) as torch.var; eps 1e-6 inside the sqrt
        var expected = (patches - patches.mean([-1], keepdim: true)) / (patches.var(-1, unbiased: true, keepdim: true) + 1e-6).sqrt();
        Assert.True(t.allclose(expected, rtol: 1e-5, atol: 1e-6));
        Assert.True((t.std(-1, unbiased: true) - 1).abs().max().item<float>() < 1e-3);
        // so the same prediction gives different losses
        var mask = ones(2, 16);
        Assert.Equal(0f, raw.ForwardLoss(imgs, patches, mask).item<float>());
        Assert.True(norm.ForwardLoss(imgs, patches, mask).item<float>() > 1);
    }

    [Fact]
    public void Without_masked_conv_the_latent_changes_for_the_same_weights_and_mask()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var on = new MaskedAutoencoderConvViT(Cfg);
        on.eval();
        using var off = Twin(on, Cfg with { MaskedConv = false });
        var imgs = randn(2, 3, 64, 64);
        var noise = rand(2, 16);
        using var a = on.Forward(imgs, noise);
        using var b = off.Forward(imgs, noise);
        Assert.True((a.Latent - b.Latent).abs().max().item<float>() > 1e-3);
    }
}
