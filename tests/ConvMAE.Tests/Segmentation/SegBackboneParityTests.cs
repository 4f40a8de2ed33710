using System.Text.Json;
using ConvMAE.Interop;
using ConvMAE.Segmentation;
using ConvMAE.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Segmentation;

/// <summary>
/// Every <c>seg_backbone</c> fixture under the backbone parity folder (scanned for config.json; CONVMAE_BACKBONE_PARITY_DIR
/// overrides it): the backbone is built from config.json alone; loading pretrain_checkpoint.pth the official way gives
/// after_load.safetensors; with model.safetensors loaded strictly, the four outputs, the objective (sum over outputs of
/// the mean of squares) and the recorded gradients match at the tolerances of shared/parity/README.md.
/// </summary>
[Trait("Category", "Parity")]
public class SegBackboneParityTests(ITestOutputHelper output)
{
    const double ForwardTol = 1e-4, ScalarTol = 1e-5, GradTol = 1e-3;

    public static IEnumerable<object[]> Fixtures()
    {
        var dir = TestPaths.BackbonesDir;
        var names = Directory.Exists(dir)
            ? Directory.GetDirectories(dir).Where(d => File.Exists(Path.Combine(d, "config.json")) && Kind(d) == "seg_backbone")
                       .Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToList()
            : [];
        if (names.Count == 0) return [[$"<no seg_backbone fixture in {dir}>"]];
        return names.Select(n => new object[] { n });
    }

    static string? Kind(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        return doc.RootElement.TryGetProperty("kind", out var k) ? k.GetString() : null;
    }

    /// <summary>The backbone a fixture's config.json describes (official defaults for everything it does not name).</summary>
    public static SegBackboneConfig ConfigOf(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        var r = doc.RootElement;
        var enc = r.GetProperty("encoder");
        int input = r.GetProperty("input").GetInt32();
        return new SegBackboneConfig
        {
            ImgSize = [input, input / 4, input / 8],
            EmbedDim = enc.GetProperty("embed_dim").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            Depth = enc.GetProperty("depth").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            NumHeads = enc.GetProperty("num_heads").GetInt32(),
            MlpRatio = enc.GetProperty("mlp_ratio").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
            LayerNormEps = r.TryGetProperty("layer_norm_eps", out var eps) ? eps.GetDouble() : 1e-5,
        }.Validate();
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Seg_backbone_matches_the_official(string fixture)
    {
        if (fixture.StartsWith('<')) Assert.Fail(fixture);
        var folder = Path.Combine(TestPaths.BackbonesDir, fixture);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        long nParams = doc.RootElement.GetProperty("n_params").GetInt64();
        var config = ConfigOf(folder);
        using var scope = NewDisposeScope();
        var checks = new List<Check>();

        // 1. The official load of a pretraining checkpoint.
        manual_seed(0);
        using (var fresh = new ConvMAESegBackbone(config))
        using (var afterLoad = Checkpoints.ReadStateDict(Path.Combine(folder, "after_load.safetensors")))
        {
            var state = fresh.state_dict();
            Assert.Equal(afterLoad.Keys.Order(StringComparer.Ordinal), state.Keys.Order(StringComparer.Ordinal));
            var report = Checkpoints.LoadPretrained(fresh, Path.Combine(folder, "pretrain_checkpoint.pth"), PretrainedLoadOptions.Backbone);
            foreach (var (key, t) in fresh.state_dict())
            {
                var e = afterLoad[key];
                if (t.dim() == 0 && e.shape is [1]) e = e.reshape([]);      // safetensors stores the 0-dim num_batches_tracked as [1]
                if (!t.shape.SequenceEqual(e.shape)) checks.Add(new(false, $"after load {key}: shape {Compare.Shape(t)} vs {Compare.Shape(e)}"));
                else if (report.Load.Loaded.Contains(key)) checks.Add(Compare.Close($"after load {key}", t, e, 1e-6));
            }
            // What the checkpoint lacks keeps its initial value: zero tables, layer scale 1.0 (init_values), BatchNorm defaults.
            foreach (var key in report.Load.Missing)
            {
                var t = fresh.state_dict()[key];
                if (key.EndsWith("relative_position_bias_table")) checks.Add(Compare.Exact($"initial {key}", t, zeros_like(t)));
                if (key.EndsWith("gamma_1") || key.EndsWith("gamma_2")) checks.Add(Compare.Exact($"initial {key}", t, ones_like(t)));
            }
            checks.Add(new(report.Interpolated.Any(i => i.Key == "pos_embed"), "pos_embed resized from the pretraining grid"));
        }

        // 2. Outputs and gradients with the fixture's weights.
        manual_seed(0);
        using var model = new ConvMAESegBackbone(config);
        using (var weights = Checkpoints.ReadStateDict(Path.Combine(folder, "model.safetensors")))
        {
            var load = Checkpoints.LoadInto(model, weights, strict: true, sourceName: "model.safetensors");
            Assert.True(load.IsExact, load.Describe());
        }
        Assert.Equal(nParams, model.parameters().Sum(t => t.numel()));      // the official count: parameters, not buffers
        model.eval();
        model.zero_grad();
        using var io = Checkpoints.ReadStateDict(Path.Combine(folder, "io.safetensors"));
        var feats = model.call(io["imgs"]);
        Tensor objective = zeros(1);
        for (int i = 0; i < feats.Length; i++)
        {
            checks.Add(Compare.Close($"feat{i}", feats[i], io[$"feat{i}"], ForwardTol));
            objective = objective + feats[i].pow(2).mean();
        }
        checks.Add(Compare.RelScalar("objective", objective, io["objective"], ScalarTol));
        objective.backward();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (key, expected) in io.Where(kv => kv.Key.StartsWith("grad.")))
        {
            var name = key["grad.".Length..];
            if (!parameters.TryGetValue(name, out var p) || p.grad is null) { checks.Add(new(false, $"{key}: no such parameter or no gradient")); continue; }
            checks.Add(Compare.Close(key, p.grad, expected, GradTol));
        }
        var known = new HashSet<string> { "imgs", "objective", "feat0", "feat1", "feat2", "feat3" };
        checks.AddRange(io.Keys.Where(k => !known.Contains(k) && !k.StartsWith("grad.")).Select(k => new Check(false, $"{k}: tensor this test does not check")));

        foreach (var c in checks) output.WriteLine((c.Ok ? "ok   " : "FAIL ") + c.Line);
        var failed = checks.Where(c => !c.Ok).Select(c => c.Line).ToList();
        Assert.True(failed.Count == 0, $"fixture '{fixture}':\n" + string.Join("\n", failed));
    }
}
