using ConvMAE.Modeling;
using ConvMAE.Training;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Training;

/// <summary>The official groupings on ConvMAE-Base, against the formulas of util/lr_decay.py and timm's add_weight_decay.</summary>
public class ParamGroupTests
{
    static readonly Lazy<ConvViT> Base = new(() => { manual_seed(0); return new ConvViT(ConvViTConfig.ConvMAEBase with { NumClasses = 1000 }); });

    [Fact]
    public void Layer_decay_groups_of_ConvMAE_Base_follow_param_groups_lrd()
    {
        var named = Base.Value.named_parameters().ToList();
        var groups = ParamGroups.LayerDecay(named, weightDecay: 0.05, layerDecay: 0.75, transformerDepth: 11);
        // 11 transformer blocks → num_layers 12; ids 0..12, each with decay and no_decay parameters: 26 groups.
        Assert.Equal(26, groups.Count);
        Assert.Equal(named.Count, groups.Sum(g => g.Params.Count));
        var byName = groups.SelectMany(g => g.Params.Select(p => (p.Name, g))).ToDictionary(x => x.Name, x => x.g);

        void Expect(string name, int layer, bool decay)
        {
            var g = byName[name];
            Assert.Equal(Math.Pow(0.75, 12 - layer), g.LrScale, 12);
            Assert.Equal(decay ? 0.05 : 0.0, g.WeightDecay);
            Assert.Equal($"layer_{layer}_{(decay ? "decay" : "no_decay")}", g.Name);
        }
        Expect("pos_embed", 0, decay: false);                 // in no_weight_decay, although 3-D
        Expect("patch_embed1.proj.weight", 0, decay: true);
        Expect("patch_embed1.norm.bias", 0, decay: false);
        Expect("patch_embed4.weight", 0, decay: true);
        Expect("blocks1.0.attn.weight", 0, decay: true);      // the 5×5 depthwise conv
        Expect("blocks2.1.conv2.bias", 0, decay: false);
        Expect("blocks3.0.attn.qkv.weight", 1, decay: true);
        Expect("blocks3.4.mlp.fc1.weight", 5, decay: true);
        Expect("blocks3.10.norm2.weight", 11, decay: false);
        Expect("fc_norm.weight", 12, decay: false);
        Expect("head.weight", 12, decay: true);
        Expect("head.bias", 12, decay: false);
        // Groups appear in order of first use, as the official dict does: pos_embed first.
        Assert.Equal("layer_0_no_decay", groups[0].Name);
        Assert.Equal(1.0, groups.Single(g => g.Name == "layer_12_decay").LrScale);
        Assert.Equal(Math.Pow(0.75, 12), groups[0].LrScale, 15);
    }

    [Fact]
    public void Pretraining_groups_exempt_1d_and_bias_and_skip_frozen_tables()
    {
        manual_seed(0);
        using var mae = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAETinyCpu);
        var named = mae.named_parameters().ToList();
        var groups = ParamGroups.WeightDecay(named, 0.05);
        Assert.Equal(["no_decay", "decay"], groups.Select(g => g.Name));
        var noDecay = groups[0].Params.Select(p => p.Name).ToHashSet();
        var decay = groups[1].Params.Select(p => p.Name).ToHashSet();
        Assert.DoesNotContain("decoder_pos_embed", noDecay.Concat(decay));      // frozen sin-cos tables are left out
        Assert.DoesNotContain("pos_embed", noDecay.Concat(decay));
        Assert.Contains("mask_token", decay);                                   // 3-D: decayed, as the official
        Assert.Contains("decoder_pred.bias", noDecay);
        Assert.Contains("blocks3.0.norm1.weight", noDecay);
        Assert.Contains("blocks1.0.attn.weight", decay);
        foreach (var (name, p) in named.Where(n => n.parameter.requires_grad))
            Assert.Equal(p.dim() == 1 || name.EndsWith(".bias"), noDecay.Contains(name));
    }

    [Fact]
    public void Layer_ids_of_the_official_function()
    {
        Assert.Equal(0, ParamGroups.LayerId("cls_token", 12));
        Assert.Equal(0, ParamGroups.LayerId("patch_embed3.proj.weight", 12));
        Assert.Equal(0, ParamGroups.LayerId("blocks2.0.mlp.fc1.weight", 12));
        Assert.Equal(8, ParamGroups.LayerId("blocks3.7.attn.proj.bias", 12));
        Assert.Equal(12, ParamGroups.LayerId("norm.weight", 12));
    }
}
