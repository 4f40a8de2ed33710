using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>With masked convolution the visible tokens never see the pixels of removed blocks; without it they do.</summary>
public class LeakageTests
{
    [Theory]
    [InlineData("convmae_tiny_cpu")]
    [InlineData("convmae_small_cpu")]
    public void Masked_conv_keeps_visible_latents_independent_of_removed_pixels(string preset)
    {
        using var _ = NewDisposeScope();
        var cfg = ConvViTConfig.Preset(preset);
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(cfg);
        var imgs = randn(2, 3, cfg.InputSize, cfg.InputSize);
        var noise = rand(2, cfg.NumPatches);
        Assert.True(LeakageCheck.MaxVisibleLatentChange(model, imgs, noise) <= 1e-5);
        Assert.True(model.training);   // the check restores the mode it found
    }

    [Theory]
    [InlineData("convmae_tiny_cpu")]
    [InlineData("convmae_small_cpu")]
    public void Without_masked_conv_the_check_detects_leakage(string preset)
    {
        using var _ = NewDisposeScope();
        var cfg = ConvViTConfig.Preset(preset) with { MaskedConv = false };
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(cfg);
        var imgs = randn(2, 3, cfg.InputSize, cfg.InputSize);
        var noise = rand(2, cfg.NumPatches);
        Assert.True(LeakageCheck.MaxVisibleLatentChange(model, imgs, noise) > 1e-3);
    }

    [Fact]
    public void Changing_visible_pixels_does_change_the_latent()
    {
        // The masked model is sensitive to its input at all: the zero change above is not a dead model.
        using var _ = NewDisposeScope();
        var cfg = ConvViTConfig.ConvMAETinyCpu;
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(cfg);
        model.eval();
        var imgs = randn(1, 3, 64, 64);
        using var plan = Masking.FromNoise(rand(1, 16), 0.75);
        var visible = 1 - Masking.Upsample(plan.Mask, 4, 16);
        var a = model.ForwardEncoder(imgs, plan);
        var b = model.ForwardEncoder(imgs + visible * 0.5, plan);
        Assert.True((a - b).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void Per_token_leakage_is_NaN_on_removed_tokens_and_its_max_is_the_overall_max()
    {
        using var _ = NewDisposeScope();
        var cfg = ConvViTConfig.ConvMAETinyCpu with { MaskedConv = false };
        manual_seed(2);
        using var model = new MaskedAutoencoderConvViT(cfg);
        var imgs = randn(2, 3, 64, 64);
        var other = randn(2, 3, 64, 64);
        using var plan = Masking.FromNoise(rand(2, 16), 0.75);
        var perToken = LeakageCheck.VisibleLatentChangePerToken(model, imgs, plan, other);   // [2,16]
        Assert.Equal(new long[] { 2, 16 }, perToken.shape);
        Assert.True(perToken.isnan().eq(plan.Mask.to(ScalarType.Bool)).all().item<bool>());   // NaN exactly where removed
        double overall = LeakageCheck.MaxVisibleLatentChange(model, imgs, plan, other);
        Assert.Equal(overall, perToken.nan_to_num(-1).max().item<float>(), 6);
    }

    [Fact]
    public void Encoder_parts_sum_to_the_latent_before_its_norm()
    {
        using var _ = NewDisposeScope();
        var cfg = ConvViTConfig.ConvMAETinyCpu;
        manual_seed(3);
        using var model = new MaskedAutoencoderConvViT(cfg);
        model.eval();
        var imgs = randn(2, 3, 64, 64);
        using var plan = Masking.FromNoise(rand(2, 16), 0.75);
        using var parts = model.ForwardEncoderParts(imgs, plan);
        Assert.Equal(new long[] { 2, 4, cfg.EmbedDim[2] }, parts.Stage1!.shape);
        var latent = model.ForwardEncoder(imgs, plan);
        Assert.True(latent.allclose(model.Norm.call(parts.Stage3 + parts.Stage1 + parts.Stage2!), 1e-5, 1e-6));
        using var noFusion = new MaskedAutoencoderConvViT(cfg with { MultiScaleFusion = false });
        using var single = noFusion.ForwardEncoderParts(imgs, plan);
        Assert.Null(single.Stage1);
        Assert.Null(single.Stage2);
    }
}
