using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

public class LayerTests
{
    /// <summary>ConvMAE-B's stage-1 block (256 channels, 1024 hidden) at a 32×32 map. With channels-last inputs to its
    /// 1×1 convolutions libtorch 2.10's oneDNN kernels killed the process (SIGFPE) on a machine that reports no cache
    /// sizes; this test process would crash there, not fail.</summary>
    [Fact]
    public void A_base_width_conv_block_runs_and_keeps_its_shape()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var block = new CBlock(256);
        block.eval();
        using var _ = no_grad();
        var x = randn(1, 256, 32, 32);
        var y = block.call(x, null);
        Assert.Equal(x.shape, y.shape);
        Assert.True(y.isfinite().all().item<bool>());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Fused_attention_matches_the_explicit_softmax(bool qkvBias)
    {
        using var _ = NewDisposeScope();
        manual_seed(11);
        using var attn = new Attention(48, 6, qkvBias);
        attn.eval();
        var x = randn(3, 17, 48);
        var fused = attn.call(x);
        attn.Fused = false;
        var explicitPath = attn.call(x);
        Assert.True((fused - explicitPath).abs().max().item<float>() < 1e-5f);
        // and the explicit path is the textbook formula
        var qkv = attn.Qkv.call(x).reshape(3, 17, 3, 6, 8).permute(2, 0, 3, 1, 4);
        var w = (qkv[0].matmul(qkv[1].transpose(-2, -1)) * Math.Pow(8, -0.5)).softmax(-1);
        var manual = attn.Proj.call(w.matmul(qkv[2]).transpose(1, 2).reshape(3, 17, 48));
        Assert.True((manual - explicitPath).abs().max().item<float>() < 1e-6f);
    }

    [Fact]
    public void Drop_path_drops_whole_samples_in_training_only()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var dp = new DropPath(0.5);
        var x = ones(400, 3, 2, 2);
        dp.eval();
        Assert.True(dp.call(x).eq(x).all().item<bool>());
        dp.train();
        var y = dp.call(x);
        var perSample = y.reshape(400, -1);
        var kept = perSample.eq(2).all(1);       // x / keep
        var dropped = perSample.eq(0).all(1);
        Assert.True((kept | dropped).all().item<bool>());
        long k = kept.sum().item<long>();
        Assert.InRange(k, 150, 250);
        using var none = new DropPath(0);
        none.train();
        Assert.True(none.call(x).eq(x).all().item<bool>());
    }

    [Fact]
    public void Cblock_with_an_all_visible_mask_equals_no_mask()
    {
        using var _ = NewDisposeScope();
        manual_seed(2);
        using var blk = new CBlock(16, 4.0);
        var x = randn(2, 16, 8, 8);
        var a = blk.call(x, null);
        var b = blk.call(x, ones(2, 1, 8, 8));
        Assert.True(a.allclose(b));
        var c = blk.call(x, zeros(2, 1, 8, 8));
        Assert.False(a.allclose(c, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void Cblock_mask_applies_after_conv1_and_before_the_depthwise_conv()
    {
        using var _ = NewDisposeScope();
        manual_seed(4);
        using var blk = new CBlock(8, 2.0);
        var x = randn(1, 8, 6, 6);
        var vis = (rand(1, 1, 6, 6) > 0.5).to(float32);
        var y = blk.Conv1.call(blk.Norm1.call(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)) * vis;
        var h = x + blk.Conv2.call(blk.Attn.call(y));
        var expected = h + blk.Mlp.call(blk.Norm2.call(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2));
        Assert.True(blk.call(x, vis).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Patch_embed_rejects_the_wrong_input_size()
    {
        using var _ = NewDisposeScope();
        using var pe = new PatchEmbed(32, 4, 3, 8);
        Assert.Equal([2L, 8L, 8L, 8L], pe.call(randn(2, 3, 32, 32)).shape);
        var e = Assert.Throws<ArgumentException>(() => pe.call(randn(2, 3, 36, 36)));
        Assert.Contains("img_size", e.Message);
    }

    [Fact]
    public void Layer_norms_use_the_official_mixed_eps()
    {
        using var _ = NewDisposeScope();
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAETinyCpu);
        // A LayerNorm's eps shows when the input variance is tiny: y = x·w / sqrt(var + eps).
        var x = full(1, 1, 128, 0f);
        x[0, 0, 0] = 1e-3f;
        var y6 = model.Norm.call(x)[0, 0, 0].item<float>();               // norm_layer: eps 1e-6
        double v = 1e-6 * 127 / 128 / 128;                                 // biased variance of the input
        double m = 1e-3 / 128;
        Assert.Equal((1e-3 - m) / Math.Sqrt(v + 1e-6), y6, 2);
        var xc = full(1, 4, 4, 32, 0f);
        xc[0, 0, 0, 0] = 1e-3f;
        var y5 = model.Blocks1[0].Norm1.call(xc)[0, 0, 0, 0].item<float>(); // plain nn.LayerNorm: eps 1e-5
        double v32 = 1e-6 * 31 / 32 / 32, m32 = 1e-3 / 32;
        Assert.Equal((1e-3 - m32) / Math.Sqrt(v32 + 1e-5), y5, 2);
    }
}
