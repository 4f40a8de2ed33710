using System.Diagnostics;
using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Summary;

/// <summary>
/// <see cref="ModelSummary"/>: parameter totals against built models, single-layer FLOPs worked out by hand, an
/// empirical FLOP count from forward hooks on a built model, and how the count scales with the input size.
/// </summary>
public class ModelSummaryTests
{
    static readonly ConvViTConfig Tiny = ConvViTConfig.ConvMAETinyCpu;

    // ------------------------------------------------------------------ parameters
    [Fact]
    public void Base_analytic_counts_are_the_official_numbers()
    {
        var clf = ModelSummary.Of(ConvViTConfig.ConvMAEBase with { NumClasses = 1000 }, ModelKind.Classifier);
        Assert.Equal(85_374_824, clf.TotalParams);
        Assert.Equal(0, clf.FrozenParams);
        var mae = ModelSummary.Of(ConvViTConfig.ConvMAEBase, ModelKind.Pretrain);
        Assert.Equal(115_041_408, mae.TotalParams);
        Assert.Equal(114_790_528, mae.TrainableParams);
        Assert.Equal(250_880, mae.FrozenParams);                      // 196·768 + 196·512
        Assert.Equal(196 * 768, mae["pos_embed"].FrozenParams);
        Assert.Equal(196 * 512, mae["decoder_pos_embed"].FrozenParams);
        Assert.Equal(196 * 768, clf["pos_embed"].TrainableParams);    // learnable in the classifier
        // Spec §4 per-part values.
        Assert.Equal(11 * 7_087_872, clf["blocks3"].Params);
        Assert.Equal(8 * 3_152_384, mae["decoder_blocks"].Params);
        Assert.Equal(3_146_496, mae["stage1_output_decode"].Params);
    }

    [Fact]
    public void Base_analytic_counts_match_the_built_models_part_by_part()
    {
        using (var _ = NewDisposeScope())
        using (var clf = new ConvViT(ConvViTConfig.ConvMAEBase with { NumClasses = 1000 }))
            ModelSummary.Of(ConvViTConfig.ConvMAEBase with { NumClasses = 1000 }, ModelKind.Classifier).VerifyAgainst(clf);
        using (var _ = NewDisposeScope())
        using (var mae = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAEBase))
            ModelSummary.Of(ConvViTConfig.ConvMAEBase, ModelKind.Pretrain).VerifyAgainst(mae);
    }

    [Theory]
    [InlineData("convmae_tiny_cpu", null)]
    [InlineData("convmae_tiny_cpu", 96)]
    [InlineData("convmae_tiny_cpu", 160)]
    [InlineData("convmae_small_cpu", null)]
    [InlineData("convmae_small_cpu", 96)]
    public void Cpu_preset_counts_match_the_built_models(string preset, int? size)
    {
        using var _ = NewDisposeScope();
        var c = ConvViTConfig.Preset(preset);
        var sized = size is { } s ? c.WithInputSize(s) : c;
        foreach (var variant in new[] { sized, sized with { GlobalPool = false }, sized with { NumClasses = 0 }, sized with { QkvBias = false } })
        {
            using var clf = new ConvViT(variant);
            ModelSummary.Of(c with { GlobalPool = variant.GlobalPool, NumClasses = variant.NumClasses, QkvBias = variant.QkvBias },
                            ModelKind.Classifier, size).VerifyAgainst(clf);
        }
        using var mae = new MaskedAutoencoderConvViT(sized);
        ModelSummary.Of(c, ModelKind.Pretrain, size).VerifyAgainst(mae);
    }

    [Fact]
    public void A_wrong_count_is_reported_with_the_part()
    {
        using var _ = NewDisposeScope();
        using var clf = new ConvViT(Tiny);
        var wrong = ModelSummary.Of(Tiny with { NumClasses = 7 }, ModelKind.Classifier);
        var e = Assert.Throws<InvalidOperationException>(() => wrong.VerifyAgainst(clf));
        Assert.Contains("head: analytic 903, built 1,290", e.Message);   // 128·7+7 vs 128·10+10
    }

    // ------------------------------------------------------------------ FLOPs by hand (convmae_tiny_cpu: 64 px, embed 32/64/128)
    [Fact]
    public void Single_layer_flops_match_hand_arithmetic_on_the_tiny_preset()
    {
        var clf = ModelSummary.Of(Tiny, ModelKind.Classifier);
        // patch_embed1: Conv 4×4 stride 4, 3→32, output 16×16:
        //   MACs = 4·4·3 (per output value) · 32 (channels) · 256 (positions) = 48 · 8192 = 393,216 → 786,432 FLOPs.
        Assert.Equal(786_432, clf["patch_embed1"].ForwardFlops);
        // patch_embed4: Linear 128→128 on L = (64/16)² = 16 tokens: 128·128·16 = 262,144 MACs → 524,288 FLOPs.
        Assert.Equal(524_288, clf["patch_embed4"].ForwardFlops);
        // One attention product, QKᵀ over 4 heads of 32 dims on 16 tokens: 4·16·16·32 = 32,768 MACs; attn·V the same.
        // blocks3 has 2 Blocks: 2 blocks · 2 products · 32,768 MACs · 2 FLOPs = 262,144.
        Assert.Equal(262_144, clf["blocks3"].AttentionFlops);
        // blocks3 linears per Block on 16 tokens: qkv 128·384 + proj 128·128 + fc1 128·512 + fc2 512·128
        //   = 49,152 + 16,384 + 65,536 + 65,536 = 196,608 MACs per token · 16 tokens = 3,145,728; ·2 blocks ·2 = 12,582,912.
        Assert.Equal(12_582_912, clf["blocks3"].LayerFlops);
        // blocks1: one CBlock(32) on 16×16: conv1 32·32 + depthwise 25·32 + conv2 32·32 + fc1 32·128 + fc2 128·32
        //   = 1,024 + 800 + 1,024 + 4,096 + 4,096 = 11,040 MACs per position · 256 = 2,826,240 → 5,652,480 FLOPs.
        Assert.Equal(5_652_480, clf["blocks1"].ForwardFlops);
        // head: Linear 128→10 on one pooled vector: 1,280 MACs → 2,560 FLOPs. Norms count nothing.
        Assert.Equal(2_560, clf["head"].ForwardFlops);
        Assert.Equal(0, clf["fc_norm"].ForwardFlops);

        var mae = ModelSummary.Of(Tiny with { SparseStages = false }, ModelKind.Pretrain);
        // mask_ratio 0.75: int(16·0.25) = 4 visible tokens in blocks3.
        Assert.Equal(4, mae.EncoderTokens);
        // blocks3 on 4 tokens: attention 2 blocks · 2 products · (4·4·128 = 2,048) MACs · 2 = 16,384;
        //   linears 196,608 MACs per token · 4 · 2 blocks · 2 = 3,145,728.
        Assert.Equal(16_384, mae["blocks3"].AttentionFlops);
        Assert.Equal(3_145_728, mae["blocks3"].LayerFlops);
        // The conv stages run on the full image in the dense form: same as the classifier.
        Assert.Equal(5_652_480, mae["blocks1"].ForwardFlops);
        // Sparse form: the per-position parts on the 4 visible tokens' 4·16 = 64 positions, (1,024 + 1,024 + 4,096 + 4,096)
        //   · 64 = 655,360 MACs, the depthwise conv on the full map 800 · 256 = 204,800 → 860,160 MACs → 1,720,320 FLOPs;
        //   stage1_output_decode on 4 tokens: 16·32·128·4 = 262,144 MACs → 524,288 FLOPs.
        var sparse = ModelSummary.Of(Tiny, ModelKind.Pretrain);
        Assert.Equal(1_720_320, sparse["blocks1"].ForwardFlops);
        Assert.Equal(524_288, sparse["stage1_output_decode"].ForwardFlops);
        // stage1_output_decode: Conv 4×4/4, 32→128, output 4×4: 16·32·128·16 = 1,048,576 MACs → 2,097,152 FLOPs.
        Assert.Equal(2_097_152, mae["stage1_output_decode"].ForwardFlops);
        // decoder_embed: Linear 128→64 on 4 tokens = 32,768 MACs → 65,536; decoder_pred: 64→768 on 16 = 786,432 → 1,572,864.
        Assert.Equal(65_536, mae["decoder_embed"].ForwardFlops);
        Assert.Equal(1_572_864, mae["decoder_pred"].ForwardFlops);
        // decoder attention on all 16 tokens, dim 64, 1 block: 2 · 16·16·64 MACs · 2 = 65,536.
        Assert.Equal(65_536, mae["decoder_blocks"].AttentionFlops);
    }

    [Fact]
    public void Base_forward_and_training_flops()
    {
        // Independent arithmetic (per 224-px image, MACs): classifier 23,081,125,888, pretraining (mask 0.75) 17,218,220,544.
        var clf = ModelSummary.Of(ConvViTConfig.ConvMAEBase, ModelKind.Classifier);
        Assert.Equal(2 * 23_081_125_888L, clf.ForwardFlops);
        Assert.Equal(3 * clf.ForwardGFlops, clf.TrainingGFlops, 9);
        var mae = ModelSummary.Of(ConvViTConfig.ConvMAEBase with { SparseStages = false }, ModelKind.Pretrain);
        Assert.Equal(2 * 17_218_220_544L, mae.ForwardFlops);
        Assert.Equal(49, mae.EncoderTokens);
        // Sparse stages (the default): the stem and patch_embed4 on the 49 visible tokens' blocks (16 stage-1 and 4 stage-2
        // positions each), the depthwise convolutions on the full 56² and 28² maps. By hand: the stem + patch_embed4 cost
        // 8,019,128,320 MACs on 196 tokens and 2,046,177,280 on 49 (of which 55,193,600 depthwise in both).
        var sparse = ModelSummary.Of(ConvViTConfig.ConvMAEBase, ModelKind.Pretrain);
        Assert.Equal(2 * 11_245_269_504L, sparse.ForwardFlops);
        Assert.Equal(mae.TotalParams, sparse.TotalParams);
    }

    // ------------------------------------------------------------------ empirical cross-check with forward hooks
    /// <summary>
    /// Hooks every Conv2d and Linear of a built model: MACs = output values × weight values per output channel
    /// (Cin/groups·k·k, or in_features), taken from the tensors a real forward produced; Attention modules: 2·B·N²·C
    /// from their observed input. Batch 2, divided by 2. Per top-level part, in FLOPs.
    /// </summary>
    static Dictionary<string, (long Layer, long Attention)> MeasureFlops(nn.Module model, Action run)
    {
        var perPart = new Dictionary<string, (long Layer, long Attention)>();
        void Add(string part, long layer, long attention)
        {
            var (l, a) = perPart.GetValueOrDefault(part);
            perPart[part] = (l + layer, a + attention);
        }
        foreach (var (name, module) in model.named_modules())
        {
            var part = name.Split('.')[0];
            switch (module)
            {
                case Conv2d conv:
                    conv.register_forward_hook((m, x, y) => { Add(part, 2 * y.numel() * PerOutput(conv.weight!), 0); return null!; });
                    break;
                case Linear linear:
                    linear.register_forward_hook((m, x, y) => { Add(part, 2 * y.numel() * PerOutput(linear.weight!), 0); return null!; });
                    break;
                case ConvMAE.Modeling.Attention:
                    ((nn.Module<Tensor, Tensor>)module).register_forward_hook((m, x, y) =>
                    {
                        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
                        Add(part, 0, 2 * (2 * b * n * n * c));
                        return null!;
                    });
                    break;
            }
        }
        using (no_grad()) run();
        return perPart.ToDictionary(kv => kv.Key, kv => (kv.Value.Layer / 2, kv.Value.Attention / 2));   // per image
    }

    /// <summary>Multiply-adds per output value: weight values per output channel (Cin/groups·kh·kw, or in_features).</summary>
    static long PerOutput(Tensor weight) => weight.numel() / weight.shape[0];

    [Theory]
    [InlineData("convmae_tiny_cpu", null)]
    [InlineData("convmae_tiny_cpu", 96)]
    [InlineData("convmae_small_cpu", null)]
    public void Hooked_forward_counts_equal_the_analytic_counts_exactly(string preset, int? size)
    {
        using var _ = NewDisposeScope();
        manual_seed(0);
        var c = ConvViTConfig.Preset(preset);
        var sized = size is { } s ? c.WithInputSize(s) : c;
        using var imgs = randn(2, 3, sized.InputSize, sized.InputSize);

        // The classifier's official NCHW form: the channels-last form runs the same 1×1 convolutions and embeddings as
        // matrix products on the modules' weights, which module hooks do not see (same FLOPs: ChannelsLastStagesTests).
        using (var clf = new ConvViT(sized with { ChannelsLastStages = false }))
        {
            clf.eval();
            var measured = MeasureFlops(clf, () => clf.call(imgs));
            AssertSameFlops(ModelSummary.Of(c, ModelKind.Classifier, size), measured);
        }
        // The dense form: the sparse form runs its 1×1 convolutions as matrix products on the convolutions' weights,
        // which module hooks do not see (its count is checked by hand in Base_forward_and_training_flops).
        var dense = c with { SparseStages = false };
        using (var mae = new MaskedAutoencoderConvViT(sized with { SparseStages = false }))
        {
            mae.eval();
            var measured = MeasureFlops(mae, () => mae.call(imgs).Dispose());
            AssertSameFlops(ModelSummary.Of(dense, ModelKind.Pretrain, size), measured);
        }
    }

    static void AssertSameFlops(ModelSummary summary, Dictionary<string, (long Layer, long Attention)> measured)
    {
        foreach (var row in summary.Rows)
        {
            var (layer, attention) = measured.GetValueOrDefault(row.Name);
            Assert.True(row.LayerFlops == layer, $"{summary.Kind} {row.Name}: analytic conv+linear {row.LayerFlops:N0}, hooked {layer:N0}");
            Assert.True(row.AttentionFlops == attention, $"{summary.Kind} {row.Name}: analytic attention {row.AttentionFlops:N0}, hooked {attention:N0}");
        }
        Assert.Empty(measured.Keys.Except(summary.Rows.Select(r => r.Name)));
        Assert.Equal(summary.LayerFlops, measured.Values.Sum(v => v.Layer));
        Assert.Equal(summary.AttentionFlops, measured.Values.Sum(v => v.Attention));
    }

    // ------------------------------------------------------------------ scaling with the input size
    [Fact]
    public void Transformer_linears_grow_with_tokens_and_attention_with_tokens_squared()
    {
        // Doubling the side multiplies the token count N by 4: linear parts ×4, attention ×16, conv stages ×4, head ×1.
        foreach (var (cfg, s) in new[] { (Tiny, 64), (ConvViTConfig.ConvMAEBase, 224) })
        {
            var a = ModelSummary.Of(cfg, ModelKind.Classifier, s);
            var b = ModelSummary.Of(cfg, ModelKind.Classifier, 2 * s);
            Assert.Equal(4 * a.Tokens, b.Tokens);
            Assert.Equal(4 * a["blocks3"].LayerFlops, b["blocks3"].LayerFlops);
            Assert.Equal(16 * a["blocks3"].AttentionFlops, b["blocks3"].AttentionFlops);
            Assert.Equal(4 * a["blocks1"].ForwardFlops, b["blocks1"].ForwardFlops);
            Assert.Equal(4 * a["patch_embed4"].ForwardFlops, b["patch_embed4"].ForwardFlops);
            Assert.Equal(a["head"].ForwardFlops, b["head"].ForwardFlops);
            // so the attention share grows with the input size
            Assert.True((double)b.AttentionFlops / b.ForwardFlops > (double)a.AttentionFlops / a.ForwardFlops);
        }
        // Non-power-of-two steps: N = 16, 36, 64 tokens for 64, 96, 128 px.
        var sizes = new[] { 64, 96, 128 }.Select(s => ModelSummary.Of(Tiny, ModelKind.Classifier, s)).ToArray();
        foreach (var x in sizes)
        {
            long n = x.Tokens;
            Assert.Equal(sizes[0]["blocks3"].LayerFlops * n / 16, x["blocks3"].LayerFlops);
            Assert.Equal(sizes[0]["blocks3"].AttentionFlops * n * n / 256, x["blocks3"].AttentionFlops);
        }
    }

    [Fact]
    public void Masking_shrinks_only_the_encoder_transformer()
    {
        var dense = ConvViTConfig.ConvMAEBase with { SparseStages = false };
        var none = ModelSummary.Of(dense with { MaskRatio = 0 }, ModelKind.Pretrain);
        var mae = ModelSummary.Of(dense, ModelKind.Pretrain);
        var clf = ModelSummary.Of(ConvViTConfig.ConvMAEBase, ModelKind.Classifier);
        Assert.Equal(clf["blocks3"].ForwardFlops, none["blocks3"].ForwardFlops);          // mask 0: all 196 tokens
        Assert.Equal(none["blocks3"].LayerFlops / 4, mae["blocks3"].LayerFlops);          // 49 = 196/4 tokens
        Assert.Equal(none["blocks3"].AttentionFlops / 16, mae["blocks3"].AttentionFlops);
        foreach (var part in new[] { "patch_embed1", "blocks1", "blocks2", "stage1_output_decode", "patch_embed4", "decoder_blocks", "decoder_pred" })
            Assert.Equal(none[part].ForwardFlops, mae[part].ForwardFlops);
        Assert.Equal(none["decoder_embed"].ForwardFlops / 4, mae["decoder_embed"].ForwardFlops);
        // Without multi-scale fusion the decode convs keep their parameters but do not run.
        var noFusion = ModelSummary.Of(dense with { MultiScaleFusion = false }, ModelKind.Pretrain);
        Assert.Equal(0, noFusion["stage2_output_decode"].ForwardFlops);
        Assert.Equal(mae.TotalParams, noFusion.TotalParams);
        // The sparse form shrinks the per-position stem parts to the visible quarter; mask 0 keeps every block.
        var sparse = ModelSummary.Of(ConvViTConfig.ConvMAEBase, ModelKind.Pretrain);
        Assert.Equal(none["patch_embed1"].ForwardFlops, ModelSummary.Of(ConvViTConfig.ConvMAEBase with { MaskRatio = 0 }, ModelKind.Pretrain)["patch_embed1"].ForwardFlops);
        foreach (var part in new[] { "patch_embed1", "stage1_output_decode", "patch_embed2", "patch_embed3", "patch_embed4" })
            Assert.Equal(mae[part].ForwardFlops / 4, sparse[part].ForwardFlops);
        Assert.True(sparse["blocks1"].ForwardFlops < mae["blocks1"].ForwardFlops / 3);   // depthwise still on the full map
        Assert.Equal(mae["decoder_blocks"].ForwardFlops, sparse["decoder_blocks"].ForwardFlops);
    }

    // ------------------------------------------------------------------ text and CLI
    [Fact]
    public void Table_lists_every_part_and_the_totals()
    {
        var text = ModelSummary.Of(ConvViTConfig.ConvMAEBase with { SparseStages = false }, ModelKind.Pretrain).ToString();
        foreach (var part in new[] { "patch_embed1", "blocks1", "stage1_output_decode", "blocks3", "decoder_blocks", "decoder_pred", "decoder_pos_embed" })
            Assert.Contains(part, text);
        Assert.Contains("114,790,528", text);
        Assert.Contains("250,880", text);
        Assert.Contains("forward  34.44 GFLOPs per image = 17.22 GMACs", text);
        Assert.Contains("training 103.31 GFLOPs per image", text);
        Assert.Contains("49 visible", text);
    }

    static (int Code, string Output) RunCli(params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli"))
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)));
        return (p.ExitCode, stdout + stderr.Result);
    }

    [Fact]
    public void Cli_summary_prints_the_table()
    {
        var (code, output) = RunCli("summary", "--model", "convmae_tiny_cpu", "--kind", "pretrain", "--input_size", "96", "--mask_ratio", "0.5");
        Assert.True(code == 0, output);
        var expected = ModelSummary.Of(Tiny with { MaskRatio = 0.5 }, ModelKind.Pretrain, 96);
        Assert.Contains("18 visible", output);                                       // int(36 · 0.5)
        Assert.Contains(expected.TrainableParams.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), output);
        Assert.Contains("decoder_pred", output);

        (code, output) = RunCli("summary", "--model", "convmae_base", "--nb_classes", "100");
        Assert.True(code == 0, output);
        Assert.Contains("100 classes", output);

        (code, output) = RunCli("summary", "--kind", "detector");
        Assert.Equal(1, code);
        Assert.Contains("--kind 'detector'", output);
    }
}
