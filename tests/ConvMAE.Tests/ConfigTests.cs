using System.Text.Json;
using ConvMAE.Modeling;
using Xunit;

namespace ConvMAE.Tests;

public class ConfigTests
{
    [Fact]
    public void Json_uses_the_official_keyword_names()
    {
        using var doc = JsonDocument.Parse(ConvViTConfig.ConvMAEBase.ToJson());
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var key in new[] { "img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_ratio",
                                    "decoder_embed_dim", "decoder_depth", "decoder_num_heads", "norm_pix_loss", "num_classes",
                                    "global_pool", "drop_path_rate", "qkv_bias", "layer_norm_eps", "mask_ratio",
                                    "masked_conv", "multi_scale_fusion" })
            Assert.Contains(key, names);
        Assert.Equal([256, 384, 768], doc.RootElement.GetProperty("embed_dim").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void Base_preset_is_the_official_constructor()
    {
        // models_convmae.py:241 / models_convvit.py:53
        var c = ConvViTConfig.Preset("convmae_base");
        Assert.Equal([224, 56, 28], c.ImgSize);
        Assert.Equal([4, 2, 2], c.PatchSize);
        Assert.Equal([256, 384, 768], c.EmbedDim);
        Assert.Equal([2, 2, 11], c.Depth);
        Assert.Equal(12, c.NumHeads);
        Assert.Equal([4.0, 4.0, 4.0], c.MlpRatio);
        Assert.Equal((512, 8, 16), (c.DecoderEmbedDim, c.DecoderDepth, c.DecoderNumHeads));
        Assert.Equal(1e-6, c.LayerNormEps);
        Assert.True(c.QkvBias);
        Assert.Equal(196, c.NumPatches);
        Assert.Equal(768, c.PatchDim);
        Assert.True(c.MaskedConv && c.MultiScaleFusion);
        Assert.Equal(0.75, c.MaskRatio);
    }

    [Theory]
    [InlineData("convmae_base")]
    [InlineData("convmae_small_cpu")]
    [InlineData("convmae_tiny_cpu")]
    public void Json_round_trip_keeps_every_field(string preset)
    {
        var c = ConvViTConfig.Preset(preset) with { MlpRatio = [3.5, 2, 4], MaskedConv = false, DropPathRate = 0.1 };
        var back = ConvViTConfig.FromJson(c.ToJson());
        Assert.Equal(c, back);
        Assert.NotEqual(c, back with { EmbedDim = [c.EmbedDim[0], c.EmbedDim[1], c.EmbedDim[2] + 4] });
        Assert.NotEqual(c, back with { MultiScaleFusion = false });
    }

    [Fact]
    public void Parity_config_reads_the_model_section_and_top_level_eps_and_mask_ratio()
    {
        const string json = """
        { "kind": "pretrain", "batch": 3, "mask_ratio": 0.6, "layer_norm_eps": 1e-05, "n_params": 1,
          "model": { "img_size": [128, 32, 16], "patch_size": [4, 2, 2], "embed_dim": [16, 24, 48],
                     "depth": [1, 2, 3], "num_heads": 6, "mlp_ratio": [2, 3, 4], "decoder_embed_dim": 32,
                     "decoder_depth": 1, "decoder_num_heads": 2, "norm_pix_loss": true } }
        """;
        var c = TestCheckpoints.FromParityConfig(json);
        Assert.Equal([128, 32, 16], c.ImgSize);
        Assert.Equal([16, 24, 48], c.EmbedDim);
        Assert.Equal([1, 2, 3], c.Depth);
        Assert.Equal([2.0, 3.0, 4.0], c.MlpRatio);
        Assert.Equal((6, 32, 1, 2), (c.NumHeads, c.DecoderEmbedDim, c.DecoderDepth, c.DecoderNumHeads));
        Assert.True(c.NormPixLoss);
        Assert.Equal(1e-5, c.LayerNormEps);
        Assert.Equal(0.6, c.MaskRatio);
        Assert.Equal(64, c.NumPatches);
    }

    [Fact]
    public void Classifier_parity_config_with_null_mask_ratio_keeps_the_default()
    {
        const string json = """
        { "kind": "classifier", "mask_ratio": null, "layer_norm_eps": 1e-06,
          "model": { "img_size": [224, 56, 28], "patch_size": [4, 2, 2], "embed_dim": [64, 96, 192], "depth": [2, 2, 3],
                     "num_heads": 4, "mlp_ratio": [4, 4, 4], "num_classes": 10, "global_pool": false } }
        """;
        var c = TestCheckpoints.FromParityConfig(json);
        Assert.Equal(0.75, c.MaskRatio);
        Assert.False(c.GlobalPool);
        Assert.Equal(10, c.NumClasses);
        Assert.True(c.QkvBias);   // implied by the official preset, absent from the JSON
    }

    [Fact]
    public void Unknown_keys_are_rejected()
    {
        Assert.ThrowsAny<JsonException>(() => ConvViTConfig.FromJson("""{ "embed_dims": [1, 2, 3] }"""));
    }

    [Fact]
    public void Inconsistent_sizes_are_rejected_naming_the_field()
    {
        var e = Assert.Throws<ArgumentException>(() => (ConvViTConfig.ConvMAEBase with { ImgSize = [224, 50, 28] }).Validate());
        Assert.Contains("img_size", e.Message);
        e = Assert.Throws<ArgumentException>(() => (ConvViTConfig.ConvMAEBase with { NumHeads = 7 }).Validate());
        Assert.Contains("num_heads", e.Message);
    }

    [Fact]
    public void Any_input_size_divisible_by_16_is_accepted()
    {
        var c = ConvViTConfig.ConvMAEBase.WithInputSize(96);
        Assert.Equal([96, 24, 12], c.ImgSize);
        Assert.Equal(36, c.NumPatches);
        Assert.Throws<ArgumentException>(() => ConvViTConfig.ConvMAEBase.WithInputSize(100));
    }
}
