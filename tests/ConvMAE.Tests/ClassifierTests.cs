using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

public class ClassifierTests
{
    static readonly ConvViTConfig Small = ConvViTConfig.ConvMAETinyCpu;

    [Fact]
    public void Global_pool_uses_fc_norm_and_the_token_mode_uses_norm_on_token_zero()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var pooled = new ConvViT(Small with { GlobalPool = true });
        using var token0 = new ConvViT(Small with { GlobalPool = false });
        var kp = pooled.state_dict().Keys.ToList();
        var kt = token0.state_dict().Keys.ToList();
        Assert.Contains("fc_norm.weight", kp); Assert.DoesNotContain("norm.weight", kp);
        Assert.Contains("norm.weight", kt); Assert.DoesNotContain("fc_norm.weight", kt);
        Assert.Equal(["head.weight", "head.bias", "fc_norm.weight", "fc_norm.bias"], kp.TakeLast(4));   // official order

        pooled.eval(); token0.eval();
        var imgs = randn(2, 3, 64, 64);
        var tokens = token0.ForwardTokens(imgs);                                           // [N,L,E2]
        var expected = nn.functional.layer_norm(tokens[.., 0], [128], token0.Norm!.weight, token0.Norm!.bias, 1e-6);
        Assert.True(token0.ForwardFeatures(imgs).allclose(expected, rtol: 1e-5, atol: 1e-6));
        var pooledTokens = pooled.ForwardTokens(imgs);
        var expectedPool = nn.functional.layer_norm(pooledTokens.mean([1]), [128], pooled.FcNorm!.weight, pooled.FcNorm!.bias, 1e-6);
        Assert.True(pooled.ForwardFeatures(imgs).allclose(expectedPool, rtol: 1e-5, atol: 1e-6));
        Assert.Equal([2L, 10L], pooled.call(imgs).shape);
    }

    [Fact]
    public void Drop_path_schedule_runs_linearly_over_all_three_stages()
    {
        using var _ = NewDisposeScope();
        // base depths [2,2,11], rate 0.1: linspace(0, 0.1, 15)
        var cfg = new ConvViTConfig { ImgSize = [32, 8, 4], EmbedDim = [8, 8, 16], NumHeads = 2, DropPathRate = 0.1, NumClasses = 3 };
        using var model = new ConvViT(cfg);
        var all = model.Blocks1.Select(b => b.DropPath.P).Concat(model.Blocks2.Select(b => b.DropPath.P))
                       .Concat(model.Blocks3.Select(b => b.DropPath.P)).ToArray();
        Assert.Equal(15, all.Length);
        for (int i = 0; i < 15; i++) Assert.Equal(0.1 * i / 14, all[i], 6);
        Assert.Equal(0.0, model.Blocks1[0].DropPath.P);
        Assert.Equal(0.1, model.Blocks3[10].DropPath.P, 6);

        // drop path acts in training only
        var imgs = randn(4, 3, 32, 32);
        model.eval();
        Assert.True(model.call(imgs).eq(model.call(imgs)).all().item<bool>());
        model.train();
        manual_seed(3);
        Assert.False(model.call(imgs).allclose(model.call(imgs)));
    }

    [Fact]
    public void No_classes_gives_the_features()
    {
        using var _ = NewDisposeScope();
        using var model = new ConvViT(Small with { NumClasses = 0 });
        model.eval();
        var imgs = randn(2, 3, 64, 64);
        Assert.Equal([2L, 128L], model.call(imgs).shape);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("head"));
    }

    [Fact]
    public void Pretrained_encoder_weights_load_into_the_classifier_as_main_finetune_does()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var mae = new MaskedAutoencoderConvViT(Small);
        using var clf = new ConvViT(Small);
        var (missing, unexpected) = clf.load_state_dict(mae.state_dict(), strict: false);
        Assert.Equal(["head.weight", "head.bias", "fc_norm.weight", "fc_norm.bias"], missing.OrderBy(k => k.StartsWith("fc")).ToList());
        Assert.Contains("mask_token", unexpected);
        Assert.Contains("stage1_output_decode.weight", unexpected);
        Assert.Contains("norm.weight", unexpected);   // global_pool deletes norm
        Assert.True(clf.PosEmbed.eq(mae.PosEmbed).all().item<bool>());   // frozen sin-cos → initial learnable pos_embed
        Assert.True(clf.PosEmbed.requires_grad);
    }
}
