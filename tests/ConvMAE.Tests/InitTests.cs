using ConvMAE.Modeling;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>Initialisation as official: distributions per layer kind, and determinism from torch.manual_seed.</summary>
public class InitTests
{
    static readonly ConvViTConfig Cfg = ConvViTConfig.ConvMAESmallCpu;

    [Fact]
    public void Same_seed_gives_identical_models_and_another_seed_does_not()
    {
        using var _ = NewDisposeScope();
        manual_seed(7);
        using var a = new MaskedAutoencoderConvViT(Cfg);
        manual_seed(7);
        using var b = new MaskedAutoencoderConvViT(Cfg);
        manual_seed(8);
        using var c = new MaskedAutoencoderConvViT(Cfg);
        var sa = a.state_dict(); var sb = b.state_dict(); var sc = c.state_dict();
        Assert.All(sa, kv => Assert.True(kv.Value.eq(sb[kv.Key]).all().item<bool>(), kv.Key));
        Assert.False(sa["blocks3.0.attn.qkv.weight"].eq(sc["blocks3.0.attn.qkv.weight"]).all().item<bool>());
        Assert.False(sa["mask_token"].eq(sc["mask_token"]).all().item<bool>());
    }

    [Fact]
    public void Trunc_normal_is_a_normal_truncated_at_absolute_cutoffs()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        var t = empty(200_000);
        ConvMAE.Modeling.Init.TruncNormal(t, std: 1.0);
        Assert.True(t.abs().max().item<float>() <= 2f);
        Assert.InRange(t.std().item<float>(), 0.875, 0.885);   // sd of N(0,1) truncated to [-2,2]: 0.8796
        Assert.InRange(t.mean().item<float>(), -0.01, 0.01);
        ConvMAE.Modeling.Init.TruncNormal(t, std: 0.02);      // cut-offs ±2 are absolute: nothing is cut at std .02
        Assert.InRange(t.std().item<float>(), 0.0198, 0.0202);
    }

    [Fact]
    public void Pretraining_linears_are_xavier_uniform_with_zero_bias()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(Cfg);
        foreach (var (name, m) in model.named_modules())
        {
            if (m is not Linear lin) continue;
            var w = lin.weight!;
            double bound = Math.Sqrt(6.0 / (w.shape[0] + w.shape[1]));
            Assert.True(w.abs().max().item<float>() <= bound + 1e-7, name);
            Assert.InRange(w.std().item<float>(), 0.9 * bound / Math.Sqrt(3), 1.1 * bound / Math.Sqrt(3));
            Assert.True(lin.bias!.eq(0).all().item<bool>(), name);
        }
        // qkv is one [3D, D] matrix (fan_out = 3D), not three [D, D] ones
        Assert.Equal([576L, 192L], model.Blocks3[0].Attn.Qkv.weight!.shape);
    }

    [Fact]
    public void Only_patch_embed3_gets_the_linear_style_conv_init()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(Cfg);
        // patch_embed3.proj: xavier on [out, in·k·k] = [192, 384]
        var w3 = model.PatchEmbed3.Proj.weight!;
        double xavier = Math.Sqrt(6.0 / (384 + 192)), kaiming3 = 1 / Math.Sqrt(384);
        Assert.True(w3.abs().max().item<float>() > 1.5 * kaiming3);
        Assert.True(w3.abs().max().item<float>() <= xavier + 1e-7);
        // other convs keep the PyTorch default: U(±1/√fan_in) for weight and bias
        foreach (var conv in new[] { model.PatchEmbed1.Proj, model.PatchEmbed2.Proj, model.Stage1OutputDecode, model.Blocks1[0].Attn })
        {
            var w = conv.weight!;
            double bound = 1 / Math.Sqrt(w.numel() / w.shape[0]);
            Assert.True(w.abs().max().item<float>() <= bound + 1e-7);
            Assert.True(w.abs().max().item<float>() > 0.8 * bound);
            Assert.True(conv.bias!.abs().max().item<float>() <= bound + 1e-7);
            Assert.False(conv.bias!.eq(0).all().item<bool>());
        }
    }

    [Fact]
    public void Layer_norms_start_at_one_and_zero_and_mask_token_is_normal_002()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAEBase.WithInputSize(64));
        foreach (var (_, m) in model.named_modules())
            if (m is LayerNorm ln)
            {
                Assert.True(ln.weight!.eq(1).all().item<bool>());
                Assert.True(ln.bias!.eq(0).all().item<bool>());
            }
        Assert.InRange(model.MaskToken.std().item<float>(), 0.017, 0.023);   // 512 values
        Assert.InRange(model.MaskToken.mean().item<float>(), -0.004, 0.004);
    }

    [Fact]
    public void Classifier_linears_and_pos_embed_are_normal_002_with_zero_bias()
    {
        using var _ = NewDisposeScope();
        manual_seed(1);
        using var model = new ConvViT(Cfg with { NumClasses = 100 });
        Assert.True(model.PosEmbed.requires_grad);
        Assert.InRange(model.PosEmbed.std().item<float>(), 0.018, 0.022);
        foreach (var (name, m) in model.named_modules())
        {
            if (m is not Linear lin) continue;
            Assert.InRange(lin.weight!.std().item<float>(), 0.018, 0.022);
            Assert.True(lin.bias!.eq(0).all().item<bool>(), name);
        }
    }
}
