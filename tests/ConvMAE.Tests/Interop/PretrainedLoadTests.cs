using Xunit;
using ConvMAE.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Interop;

/// <summary>Finetune-from-pretrain loading (spec §6) checked against the official code's recorded results.</summary>
public class PretrainedLoadTests
{
    public static TheoryData<string> BackboneFolders => InteropFixtures.BackboneFolders();

    private static readonly string[] PretrainOnly = ["decoder_", "mask_token", "stage1_output_decode.", "stage2_output_decode."];

    /// <summary>after_load.safetensors holds the official backbone state right after its loader resized pos_embed
    /// from the 14×14 pretraining grid (bicubic, align_corners=False).</summary>
    [Theory]
    [MemberData(nameof(BackboneFolders))]
    public void Pos_embed_interpolation_matches_the_official_loader(string folder)
    {
        using var ck = Checkpoints.ReadStateDict(InteropFixtures.Backbone(folder, "pretrain_checkpoint.pth"));
        using var official = Checkpoints.ReadStateDict(InteropFixtures.Backbone(folder, "after_load.safetensors"));
        var expected = official["pos_embed"];
        int input = InteropFixtures.Config(Path.Combine(InteropFixtures.BackbonesDir, folder)).GetProperty("input").GetInt32();
        int grid = input / 16;                                   // stage-3 tokens are 16 px apart
        Assert.Equal(new long[] { 1, grid * grid, ck["pos_embed"].shape[2] }, expected.shape);
        Assert.NotEqual(ck["pos_embed"].shape[1], expected.shape[1]);   // a real resize (14×14 → grid×grid)

        using var resized = PosEmbed.Interpolate(ck["pos_embed"], grid);

        TensorAssert.Close(expected, resized, 1e-5, "pos_embed");
    }

    /// <summary>The whole mapping, run against the backbone's key → shape map, gives the official after-load state
    /// for every key the checkpoint provides, and drops exactly the pretraining-only keys and the final norm.</summary>
    [Theory]
    [MemberData(nameof(BackboneFolders))]
    public void Adapting_a_pretrain_checkpoint_reproduces_the_official_backbone_load(string folder)
    {
        using var ck = Checkpoints.ReadStateDict(InteropFixtures.Backbone(folder, "pretrain_checkpoint.pth"));
        using var official = Checkpoints.ReadStateDict(InteropFixtures.Backbone(folder, "after_load.safetensors"));

        using var adapted = PretrainedAdapter.Adapt(ck, official.Shapes(), PretrainedLoadOptions.Backbone);

        var expectDropped = ck.Keys.Where(k => !official.ContainsKey(k)).ToList();
        Assert.All(expectDropped, k => Assert.True(PretrainOnly.Any(k.StartsWith) || k.StartsWith("norm."), $"{k} would be unexpected"));
        Assert.Equal(expectDropped, adapted.Dropped.Select(d => d.Key));
        Assert.Equal(["pos_embed"], adapted.Interpolated.Select(i => i.Key));
        Assert.Equal(ck.Keys.Where(official.ContainsKey), adapted.StateDict.Keys);
        foreach (var (k, t) in adapted.StateDict)
            if (k == "pos_embed") TensorAssert.Close(official[k], t, 1e-5, k);
            else TensorAssert.Equal(official[k], t, k);
    }

    /// <summary>Loading into a module with the backbone's names: checkpoint keys are copied, keys the checkpoint lacks
    /// (relative-position tables, layer scale, FPN) keep their initial values and are reported as missing.</summary>
    [Theory]
    [MemberData(nameof(BackboneFolders))]
    public void Loading_a_pretrain_checkpoint_into_a_backbone_module(string folder)
    {
        string path = InteropFixtures.Backbone(folder, "pretrain_checkpoint.pth");
        using var official = Checkpoints.ReadStateDict(InteropFixtures.Backbone(folder, "after_load.safetensors"));
        using var ck = Checkpoints.ReadStateDict(path);
        using var m = ShapeModule.Build(official, (_, s, d) => torch.full(s, 7, dtype: d));

        var r = Checkpoints.LoadPretrained(m, path, PretrainedLoadOptions.Backbone);

        Assert.Equal(official.Keys.Where(k => !ck.ContainsKey(k)).Order(), r.Load.Missing.Order());
        Assert.Empty(r.Load.Unexpected);
        Assert.Empty(r.Load.Mismatched);
        var state = m.state_dict();
        foreach (var k in official.Keys)
            if (!ck.ContainsKey(k)) Assert.True(state[k].eq(7).all().item<bool>(), $"{k} changed");
            else if (k == "pos_embed") TensorAssert.Close(official[k], state[k].detach(), 1e-5, k);
            else TensorAssert.Equal(official[k], state[k].detach(), k);

        // Without the backbone preset the final norm is not a known leftover: strict finetune options refuse it.
        using var m2 = ShapeModule.Build(official);
        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.LoadPretrained(m2, path));
        TensorAssert.OneLineNaming(ex, path);
        Assert.Contains("unexpected keys norm.weight, norm.bias", ex.Message);
    }

    /// <summary>main_finetune with global_pool from a pretraining checkpoint: decoder, mask token, stage decoders and
    /// norm.* are dropped; the missing keys are exactly head.* and fc_norm.* (the official assert).</summary>
    [Fact]
    public void Classifier_from_pretrain_checkpoint_as_main_finetune_does()
    {
        var (pretrainDir, classifierDir) = MatchingPretrainAndClassifier();
        string path = Path.Combine(pretrainDir, "checkpoint.pth");
        using var pre = Checkpoints.ReadStateDict(path);
        using var cls = Checkpoints.ReadStateDict(Path.Combine(classifierDir, "model.safetensors"));
        Assert.True(InteropFixtures.Config(classifierDir).GetProperty("model").GetProperty("global_pool").GetBoolean());
        using var m = ShapeModule.Build(cls);

        var r = Checkpoints.LoadPretrained(m, path);

        Assert.Equal(new[] { "fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight" }, r.Load.Missing.Order());
        Assert.Empty(r.Load.Unexpected);
        Assert.Empty(r.Interpolated);
        var dropped = r.Dropped.Select(d => d.Key).ToHashSet();
        Assert.Equal(pre.Keys.Where(k => PretrainOnly.Any(k.StartsWith) || k.StartsWith("norm.")).ToHashSet(), dropped);
        Assert.Contains(r.Dropped, d => d.Key == "norm.weight" && d.Reason.Contains("fc_norm"));
        var state = m.state_dict();
        foreach (var k in r.Load.Loaded) TensorAssert.Equal(pre[k], state[k].detach(), k);
        Assert.Equal(cls.Count - 4, r.Load.Loaded.Count);
    }

    [Fact]
    public void Head_of_another_shape_is_dropped_and_left_to_initialise()
    {
        var (_, classifierDir) = MatchingPretrainAndClassifier();
        string path = Path.Combine(classifierDir, "checkpoint.pth");
        using var ck = Checkpoints.ReadStateDict(path);
        var headShape = ck["head.weight"].shape;
        using var m = ShapeModule.Build(ck.Select(kv => (kv.Key,
            kv.Key == "head.weight" ? new[] { headShape[0] + 5, headShape[1] } : kv.Key == "head.bias" ? new[] { headShape[0] + 5 } : kv.Value.shape,
            kv.Value.dtype)));

        var r = Checkpoints.LoadPretrained(m, path);

        Assert.Equal(new[] { "head.weight", "head.bias" }, r.Dropped.Select(d => d.Key));
        Assert.Contains($"checkpoint [{headShape[0]},{headShape[1]}], model [{headShape[0] + 5},{headShape[1]}]", r.Dropped[0].Reason);
        Assert.Equal(new[] { "head.weight", "head.bias" }, r.Load.Missing);
        Assert.Equal(0, m.state_dict()["head.weight"].count_nonzero().item<long>());
        Assert.Equal(ck.Count - 2, r.Load.Loaded.Count);
    }

    [Fact]
    public void Larger_input_resizes_pos_embed_and_reports_it()
    {
        var (pretrainDir, _) = MatchingPretrainAndClassifier();
        string path = Path.Combine(pretrainDir, "checkpoint.pth");
        using var pre = Checkpoints.ReadStateDict(path);
        long d = pre["pos_embed"].shape[2];
        var encoder = pre.Where(kv => !PretrainOnly.Any(kv.Key.StartsWith))
                         .Select(kv => (kv.Key, kv.Key == "pos_embed" ? new long[] { 1, 16 * 16, d } : kv.Value.shape, kv.Value.dtype));
        using var m = ShapeModule.Build(encoder);                  // non-global-pool encoder at 256 px: keeps norm.*

        var r = Checkpoints.LoadPretrained(m, path);

        var i = Assert.Single(r.Interpolated);
        Assert.Equal(new long[] { 1, 196, d }, i.From);
        Assert.Equal(new long[] { 1, 256, d }, i.To);
        Assert.Empty(r.Load.Missing);
        Assert.DoesNotContain(r.Dropped, x => x.Key.StartsWith("norm."));
        using var expected = PosEmbed.Interpolate(pre["pos_embed"], 16);
        TensorAssert.Equal(expected, m.state_dict()["pos_embed"].detach(), "pos_embed");
        Assert.Contains("interpolated pos_embed [1,196," + d + "] → [1,256," + d + "]", r.Describe());
    }

    [Fact]
    public void Strict_pretrained_load_refuses_unknown_keys_and_copies_nothing()
    {
        var (pretrainDir, classifierDir) = MatchingPretrainAndClassifier();
        string path = Path.Combine(pretrainDir, "checkpoint.pth");
        using var cls = Checkpoints.ReadStateDict(Path.Combine(classifierDir, "model.safetensors"));
        using var m = ShapeModule.Build(cls.Where(kv => kv.Key != "patch_embed4.bias"));   // the model lacks a key the checkpoint has

        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.LoadPretrained(m, path));

        Assert.Equal(CheckpointError.KeyMismatch, ex.Kind);
        TensorAssert.OneLineNaming(ex, path);
        Assert.Contains("unexpected key patch_embed4.bias", ex.Message);
        Assert.Equal("patch_embed4.bias", ex.Key);
        foreach (var (k, t) in m.state_dict()) Assert.True(t.count_nonzero().item<long>() == 0, $"{k} was modified");
    }

    [Fact]
    public void Pos_embed_interpolation_keeps_extra_tokens_and_refuses_non_square_grids()
    {
        using var pe = torch.randn(1, 1 + 4 * 4, 8);
        using var r = PosEmbed.Interpolate(pe, 6, extraTokens: 1);
        Assert.Equal(new long[] { 1, 1 + 36, 8 }, r.shape);
        TensorAssert.Equal(pe[.., ..1].contiguous(), r[.., ..1].contiguous(), "cls token");
        using var same = PosEmbed.Interpolate(pe, 4, extraTokens: 1);       // same grid: bicubic at the sample points
        TensorAssert.Close(pe, same, 1e-6, "identity resize");
        using var odd = torch.zeros(1, 15, 8);
        Assert.Throws<ArgumentException>(() => PosEmbed.Interpolate(odd, 4));
    }

    /// <summary>A pretrain fixture and a classifier fixture with the same encoder configuration.</summary>
    private static (string Pretrain, string Classifier) MatchingPretrainAndClassifier()
    {
        static string Encoder(string dir)
        {
            var m = InteropFixtures.Config(dir).GetProperty("model");
            return string.Join("|", new[] { "img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio" }
                .Select(k => m.GetProperty(k).GetRawText()));
        }
        var folders = InteropFixtures.Folders(InteropFixtures.ParityDir);
        string Kind(string d) => InteropFixtures.Config(d).GetProperty("kind").GetString()!;
        foreach (var p in folders.Where(d => Kind(d) == "pretrain"))
            foreach (var c in folders.Where(d => Kind(d) == "classifier"))
                if (Encoder(p) == Encoder(c)) return (p, c);
        throw new InvalidOperationException($"no pretrain and classifier fixtures with the same encoder under {InteropFixtures.ParityDir}");
    }
}
