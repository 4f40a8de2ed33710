using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>
/// Model sizes. The base numbers are the official ones (spec §4, platform notes); the CPU presets are checked against an
/// independent count written here from the layer shapes of the official code.
/// </summary>
public class ParameterCountTests
{
    [Fact]
    public void Base_classifier_has_85_374_824_values()
    {
        using var _ = NewDisposeScope();
        using var model = new ConvViT(ConvViTConfig.ConvMAEBase with { NumClasses = 1000, GlobalPool = true });
        Assert.Equal(85_374_824, model.StateCount());
        using var token0 = new ConvViT(ConvViTConfig.ConvMAEBase with { NumClasses = 1000, GlobalPool = false });
        Assert.Equal(85_374_824, token0.StateCount());   // norm replaces fc_norm
    }

    [Fact]
    public void Base_pretraining_model_has_115_041_408_values_of_which_250_880_are_frozen()
    {
        using var _ = NewDisposeScope();
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAEBase);
        Assert.Equal(115_041_408, model.StateCount());
        Assert.Equal(114_790_528, model.TrainableCount());
    }

    [Theory]
    [InlineData("convmae_tiny_cpu", 514_570, 721_216)]
    [InlineData("convmae_small_cpu", 1_766_762, 2_564_448)]
    public void Cpu_presets_have_the_documented_sizes(string preset, long classifier, long pretrain)
    {
        using var _ = NewDisposeScope();
        var c = ConvViTConfig.Preset(preset);
        Assert.Equal(classifier, CountClassifier(c));
        Assert.Equal(pretrain, CountPretrain(c));
        using var clf = new ConvViT(c);
        using var mae = new MaskedAutoencoderConvViT(c);
        Assert.Equal(classifier, clf.StateCount());
        Assert.Equal(pretrain, mae.StateCount());
    }

    // ---- independent count from the official layer shapes (all Linear/Conv with bias, qkv_bias = true) ----
    static long CBlock(long d, double r) { long h = (long)(d * r); return 2 * d + 2 * (d * d + d) + 25 * d + d + 2 * d + (d * h + h) + (h * d + d); }
    static long Block(long d, double r) { long h = (long)(d * r); return 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * h + h) + (h * d + d); }
    static long PatchEmbed(long cin, long c, long k) => c * cin * k * k + c + 2 * c;

    static long Shared(ConvViTConfig c)
    {
        long e0 = c.EmbedDim[0], e1 = c.EmbedDim[1], e2 = c.EmbedDim[2], L = (c.ImgSize[0] / 16) * (c.ImgSize[0] / 16);
        return PatchEmbed(3, e0, 4) + PatchEmbed(e0, e1, 2) + PatchEmbed(e1, e2, 2) + (e2 * e2 + e2) + L * e2
             + c.Depth[0] * CBlock(e0, c.MlpRatio[0]) + c.Depth[1] * CBlock(e1, c.MlpRatio[1]) + c.Depth[2] * Block(e2, c.MlpRatio[2]);
    }

    static long CountClassifier(ConvViTConfig c) => Shared(c) + 2L * c.EmbedDim[2] + (long)c.EmbedDim[2] * c.NumClasses + c.NumClasses;

    static long CountPretrain(ConvViTConfig c)
    {
        long e0 = c.EmbedDim[0], e1 = c.EmbedDim[1], e2 = c.EmbedDim[2], dd = c.DecoderEmbedDim, L = (c.ImgSize[0] / 16) * (c.ImgSize[0] / 16);
        return Shared(c) + (e0 * e2 * 16 + e2) + (e1 * e2 * 4 + e2) + 2 * e2
             + (e2 * dd + dd) + dd + L * dd + c.DecoderDepth * Block(dd, c.MlpRatio[0]) + 2 * dd + (dd * 768 + 768);
    }
}
