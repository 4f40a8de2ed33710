using System.Text.Json;
using ConvMAE.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Support;

/// <summary>
/// The parity check shared by the downstream backbones' fixtures (shared/parity-backbones, scanned for config.json by
/// kind; CONVMAE_BACKBONE_PARITY_DIR overrides the folder): loading pretrain_checkpoint.pth the official way gives
/// after_load.safetensors; with model.safetensors loaded strictly, the parameter count, the outputs, the objective (sum
/// over outputs of the mean of squares) and the recorded gradients match at the tolerances of shared/parity/README.md.
/// </summary>
internal static class BackboneParity
{
    const double ForwardTol = 1e-4, ScalarTol = 1e-5, GradTol = 1e-3;

    public static IEnumerable<object[]> Fixtures(string kind)
    {
        var dir = TestPaths.BackbonesDir;
        var names = Directory.Exists(dir)
            ? Directory.GetDirectories(dir).Where(d => File.Exists(Path.Combine(d, "config.json")) && Kind(d) == kind)
                       .Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToList()
            : [];
        if (names.Count == 0) return [[$"<no {kind} fixture in {dir}>"]];
        return names.Select(n => new object[] { n });
    }

    /// <summary><see cref="Fixtures"/> crossed with the two forms of stages 1-2 (channels-last, the kit's default, and
    /// the official NCHW modules): [name, channelsLast].</summary>
    public static IEnumerable<object[]> FixturesInBothForms(string kind) =>
        Fixtures(kind).SelectMany(f => new[] { new object[] { f[0], true }, new object[] { f[0], false } });

    static string? Kind(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        return doc.RootElement.TryGetProperty("kind", out var k) ? k.GetString() : null;
    }

    /// <summary>The fields of config.json every backbone fixture has.</summary>
    public sealed record FixtureConfig(int Input, int[] EmbedDim, int[] Depth, int NumHeads, double[] MlpRatio, double? LayerNormEps,
                                       int? WindowSize, long NParams);

    public static FixtureConfig ConfigOf(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        var r = doc.RootElement;
        var enc = r.GetProperty("encoder");
        return new FixtureConfig(r.GetProperty("input").GetInt32(),
            enc.GetProperty("embed_dim").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            enc.GetProperty("depth").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            enc.GetProperty("num_heads").GetInt32(),
            enc.GetProperty("mlp_ratio").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
            r.TryGetProperty("layer_norm_eps", out var eps) ? eps.GetDouble() : null,
            r.TryGetProperty("window_size", out var ws) ? ws.GetInt32() : null,
            r.GetProperty("n_params").GetInt64());
    }

    /// <param name="build">A fresh backbone (called after manual_seed(0)).</param>
    /// <param name="outputs">The names of the outputs in io.safetensors, in the model's order.</param>
    /// <param name="initialValue">For a key the checkpoint lacks: the value it must keep, or null to check only its shape.</param>
    public static List<Check> Run(string fixture, Func<nn.Module<Tensor, Tensor[]>> build, string[] outputs,
                                  Func<string, Tensor, Tensor?> initialValue)
    {
        var folder = Path.Combine(TestPaths.BackbonesDir, fixture);
        var checks = new List<Check>();
        using var scope = NewDisposeScope();

        // 1. The official load of a pretraining checkpoint.
        manual_seed(0);
        using (var fresh = build())
        using (var afterLoad = Checkpoints.ReadStateDict(Path.Combine(folder, "after_load.safetensors")))
        {
            var state = fresh.state_dict();
            var expectedKeys = afterLoad.Keys.Order(StringComparer.Ordinal).ToList();
            var actualKeys = state.Keys.Order(StringComparer.Ordinal).ToList();
            checks.AddRange(expectedKeys.Except(actualKeys).Select(k => new Check(false, $"state key {k}: in the official state, not in the kit's")));
            checks.AddRange(actualKeys.Except(expectedKeys).Select(k => new Check(false, $"state key {k}: in the kit's state, not in the official")));
            var report = Checkpoints.LoadPretrained(fresh, Path.Combine(folder, "pretrain_checkpoint.pth"), PretrainedLoadOptions.Backbone);
            foreach (var (key, t) in fresh.state_dict())
            {
                if (!afterLoad.ContainsKey(key)) continue;
                var e = afterLoad[key];
                if (t.dim() == 0 && e.shape is [1]) e = e.reshape([]);      // safetensors stores the 0-dim num_batches_tracked as [1]
                if (!t.shape.SequenceEqual(e.shape)) checks.Add(new(false, $"after load {key}: shape {Compare.Shape(t)} vs {Compare.Shape(e)}"));
                else if (report.Load.Loaded.Contains(key)) checks.Add(Compare.Close($"after load {key}", t, e, 1e-6));
            }
            foreach (var key in report.Load.Missing)
                if (initialValue(key, fresh.state_dict()[key]) is { } v) checks.Add(Compare.Exact($"initial {key}", fresh.state_dict()[key], v));
            checks.Add(new(report.Interpolated.Any(i => i.Key == "pos_embed"), "pos_embed resized from the pretraining grid"));
        }

        // 2. Outputs and gradients with the fixture's weights.
        manual_seed(0);
        using var model = build();
        using (var weights = Checkpoints.ReadStateDict(Path.Combine(folder, "model.safetensors")))
        {
            var load = Checkpoints.LoadInto(model, weights, strict: true, sourceName: "model.safetensors");
            if (!load.IsExact) checks.Add(new(false, "model.safetensors: " + load.Describe()));
        }
        long nParams = ConfigOf(folder).NParams;
        long count = model.parameters().Sum(t => t.numel());           // the official count: parameters, not buffers
        checks.Add(new(count == nParams, $"parameters: {count} vs official {nParams}"));
        model.eval();
        model.zero_grad();
        using var io = Checkpoints.ReadStateDict(Path.Combine(folder, "io.safetensors"));
        var feats = model.call(io["imgs"]);
        checks.Add(new(feats.Length == outputs.Length, $"{feats.Length} outputs vs {outputs.Length}"));
        Tensor objective = zeros(1);
        for (int i = 0; i < Math.Min(feats.Length, outputs.Length); i++)
        {
            checks.Add(Compare.Close(outputs[i], feats[i], io[outputs[i]], ForwardTol));
            objective = objective + feats[i].pow(2).mean();
        }
        checks.Add(Compare.RelScalar("objective", objective, io["objective"], ScalarTol));
        objective.backward();
        // Gradients of every parameter, frozen ones included (requires_grad false gives none, as officially).
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (key, expected) in io.Where(kv => kv.Key.StartsWith("grad.")))
        {
            var name = key["grad.".Length..];
            if (!parameters.TryGetValue(name, out var p) || p.grad is null) { checks.Add(new(false, $"{key}: no such parameter or no gradient")); continue; }
            checks.Add(Compare.Close(key, p.grad, expected, GradTol));
        }
        var known = new HashSet<string>(outputs) { "imgs", "objective" };
        checks.AddRange(io.Keys.Where(k => !known.Contains(k) && !k.StartsWith("grad.")).Select(k => new Check(false, $"{k}: tensor this test does not check")));
        return checks;
    }
}
