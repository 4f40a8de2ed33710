using ConvMAE.Modeling;
using ConvMAE.Training;
using TorchSharp;
using TorchSharp.Modules;
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

    /// <summary>A module tree with chosen names: what a detector or segmenter registers, at toy sizes.</summary>
    sealed class Node() : nn.Module("node")
    {
        public Node Add(string name, nn.Module m) { register_module(name, m); return this; }
        public Node Param(string name, params long[] shape) { register_parameter(name, new Parameter(zeros(shape))); return this; }
    }

    /// <summary>UperNet-on-ConvMAE names (mmseg): backbone.*, decode_head.*, auxiliary_head.*.</summary>
    static Node Segmenter() => new Node()
        .Add("backbone", new Node().Param("pos_embed", 1, 16, 8)
            .Add("patch_embed1", new Node().Add("proj", nn.Conv2d(3, 8, 4, stride: 4)))
            .Add("blocks1", new Node().Add("0", new Node().Add("norm1", nn.LayerNorm(8))))
            .Add("blocks3", new Node()
                .Add("0", new Node().Add("attn", new Node().Param("relative_position_bias_table", 10, 2)))
                .Add("10", new Node().Add("attn", new Node().Add("qkv", nn.Linear(8, 24))))))
        .Add("decode_head", new Node().Add("conv_seg", nn.Conv2d(8, 5, 1)))
        .Add("auxiliary_head", new Node().Add("conv_seg", nn.Conv2d(8, 5, 1)));

    [Fact]
    public void Segmentation_groups_follow_the_official_13_layer_constructor()
    {
        var groups = ParamGroups.SegmentationLayerDecay(Segmenter().named_parameters(), weightDecay: 0.05, layerDecay: 0.75, transformerDepth: 11);
        var byName = groups.SelectMany(g => g.Params.Select(p => (p.Name, g))).ToDictionary(x => x.Name, x => x.g);
        void Expect(string name, double scale, double wd, string group)
        {
            Assert.Equal(scale, byName[name].LrScale, 12);
            Assert.Equal(wd, byName[name].WeightDecay);
            Assert.Equal(group, byName[name].Name);
        }
        Expect("backbone.blocks3.10.attn.qkv.weight", 0.75, 0.05, "layer_11_decay");
        Expect("backbone.blocks3.10.attn.qkv.bias", 0.75, 0.0, "layer_11_no_decay");
        Expect("backbone.patch_embed1.proj.weight", Math.Pow(0.75, 12), 0.05, "layer_0_decay");
        Expect("decode_head.conv_seg.weight", 1.0, 0.05, "layer_12_decay");
        Expect("decode_head.conv_seg.bias", 1.0, 0.0, "layer_12_no_decay");
        Expect("auxiliary_head.conv_seg.weight", 1.0, 0.05, "layer_12_decay");
        Expect("backbone.blocks1.0.norm1.weight", Math.Pow(0.75, 12), 0.0, "layer_0_no_decay");
        // The official quirk: the no-decay names are compared without the prefix, so these are decayed.
        Expect("backbone.pos_embed", Math.Pow(0.75, 12), 0.05, "layer_0_decay");
        Expect("backbone.blocks3.0.attn.relative_position_bias_table", Math.Pow(0.75, 11), 0.05, "layer_1_decay");
    }

    /// <summary>Mask R-CNN-on-ConvViTDet names (detectron2): backbone.bottom_up.*, the FPN's convs with norms, heads.</summary>
    static Node Detector() => new Node()
        .Add("backbone", new Node()
            .Add("bottom_up", new Node().Param("pos_embed", 1, 16, 8)
                .Add("blocks", new Node().Add("0", new Node()
                    .Add("norm1", nn.LayerNorm(8))
                    .Add("attn", new Node().Param("relative_position_bias_table", 10, 2).Add("qkv", nn.Linear(8, 24))))))
            .Add("fpn_lateral2", new Node().Param("weight", 4, 8, 1, 1).Add("norm", nn.BatchNorm2d(4))))
        .Add("roi_heads", new Node().Add("box_predictor", new Node().Add("cls_score", nn.Linear(16, 81))));

    [Fact]
    public void Detection_groups_decay_everything_but_norms_and_the_overridden_names()
    {
        var groups = ParamGroups.DetectionWeightDecay(Detector(), weightDecay: 0.1);
        var byName = groups.SelectMany(g => g.Params.Select(p => (p.Name, g))).ToDictionary(x => x.Name, x => x.g);
        Assert.All(groups, g => Assert.Equal(1.0, g.LrScale));                        // no layer decay
        foreach (var zero in new[] { "backbone.bottom_up.pos_embed", "backbone.bottom_up.blocks.0.attn.relative_position_bias_table",
                                     "backbone.bottom_up.blocks.0.norm1.weight", "backbone.bottom_up.blocks.0.norm1.bias",
                                     "backbone.fpn_lateral2.norm.weight", "backbone.fpn_lateral2.norm.bias" })
            Assert.True(byName[zero].WeightDecay == 0.0, $"{zero}: weight decay {byName[zero].WeightDecay}, expected 0");
        foreach (var decayed in new[] { "backbone.bottom_up.blocks.0.attn.qkv.weight", "backbone.bottom_up.blocks.0.attn.qkv.bias",
                                        "backbone.fpn_lateral2.weight", "roi_heads.box_predictor.cls_score.bias" })
            Assert.True(byName[decayed].WeightDecay == 0.1, $"{decayed}: weight decay {byName[decayed].WeightDecay}, expected 0.1");
        Assert.Equal(2, groups.Count);
        Assert.Equal(Detector().named_parameters().Count(), groups.Sum(g => g.Params.Count));
    }

    [Fact]
    public void Finetune_layer_ids_see_through_a_backbone_prefix()
    {
        Assert.Equal(5, ParamGroups.LayerId("backbone.blocks3.4.mlp.fc1.weight", 12, "backbone."));
        Assert.Equal(0, ParamGroups.LayerId("backbone.patch_embed1.proj.weight", 12, "backbone."));
        Assert.Equal(12, ParamGroups.LayerId("head.weight", 12, "backbone."));
        // Without the prefix rule every backbone parameter would count as the head's.
        Assert.Equal(12, ParamGroups.LayerId("backbone.blocks3.4.mlp.fc1.weight", 12));
        var groups = ParamGroups.LayerDecay(Segmenter().named_parameters(), 0.05, 0.75, transformerDepth: 11, prefix: "backbone.");
        var byName = groups.SelectMany(g => g.Params.Select(p => (p.Name, g))).ToDictionary(x => x.Name, x => x.g);
        Assert.Equal(0.0, byName["backbone.pos_embed"].WeightDecay);               // the official no_weight_decay, unprefixed
        Assert.Equal(Math.Pow(0.75, 1), byName["backbone.blocks3.10.attn.qkv.weight"].LrScale, 12);
    }
}
