using ConvMAE.Interop;
using System.Text.Json;
using ConvMAE.Modeling;
using ConvMAE.Tests.Support;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>
/// Every fixture folder (a sub-folder of the parity folder holding config.json) is rebuilt from its config.json alone,
/// loaded from model.safetensors, and must reproduce every tensor of io.safetensors within the README tolerances.
/// </summary>
[Trait("Category", "Parity")]
public class ParityTests(ITestOutputHelper output)
{
    const double ForwardTol = 1e-4, ScalarTol = 1e-5, GradTol = 1e-3;

    /// <summary>One row per fixture folder; a missing or empty parity folder gives a row that fails (never a skip).</summary>
    public static IEnumerable<object[]> Fixtures()
    {
        var dir = TestPaths.ParityDir;
        var names = Directory.Exists(dir)
            ? Directory.GetDirectories(dir).Where(d => File.Exists(Path.Combine(d, "config.json")))
                       .Select(d => Path.GetFileName(d)!).OrderBy(n => n, StringComparer.Ordinal).ToList()
            : [];
        if (names.Count == 0) return [[$"<no fixture folder with config.json in {dir}>"]];
        return names.Select(n => new object[] { n });
    }

    [Fact]
    public void Parity_folder_exists_and_holds_fixtures()
    {
        var dir = TestPaths.ParityDir;
        Assert.True(Directory.Exists(dir), $"parity folder {dir} does not exist (set CONVMAE_PARITY_DIR)");
        Assert.Contains(Directory.GetDirectories(dir), d => File.Exists(Path.Combine(d, "config.json")));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Fixture_matches_official(string fixture)
    {
        if (fixture.StartsWith('<')) Assert.Fail(fixture);   // the parity folder is missing or empty
        var folder = Path.Combine(TestPaths.ParityDir, fixture);
        var configPath = Path.Combine(folder, "config.json");
        Assert.True(File.Exists(configPath), $"fixture '{fixture}': {configPath} not found");

        var json = File.ReadAllText(configPath);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        string kind = root.GetProperty("kind").GetString()!;
        long nParams = root.GetProperty("n_params").GetInt64();
        long batch = root.GetProperty("batch").GetInt64();
        var cfg = TestCheckpoints.FromParityConfig(json);

        using var scope = NewDisposeScope();
        manual_seed(0);
        using var io = Checkpoints.ReadStateDict(Path.Combine(folder, "io.safetensors"));
        var checks = new List<Check>();
        switch (kind)
        {
            case "pretrain":
                // Both forms of stages 1-2 must reproduce the official numbers: the kit's default (visible blocks only)
                // and the official dense form (sparse_stages = false).
                foreach (var sparse in new[] { true, false })
                    using (var model = new MaskedAutoencoderConvViT(cfg with { SparseStages = sparse }))
                    {
                        var form = sparse ? "sparse" : "dense";
                        // The frozen sin-cos tables come from the config alone: they must equal the official ones before loading.
                        using var stored = Checkpoints.ReadStateDict(Path.Combine(folder, "model.safetensors"));
                        checks.Add(Compare.Close("fresh pos_embed", model.PosEmbed, stored["pos_embed"], 1e-6));
                        checks.Add(Compare.Close("fresh decoder_pos_embed", model.DecoderPosEmbed, stored["decoder_pos_embed"], 1e-6));
                        LoadWeights(model, folder, nParams);
                        Assert.Equal(sparse && cfg.MaskedConv, model.UsesSparseStages);
                        var formChecks = new List<Check>();
                        RunPretrain(model, cfg, io, batch, formChecks);
                        checks.AddRange(formChecks.Select(c => c with { Line = $"[{form}] {c.Line}" }));
                    }
                break;
            case "classifier":
                using (var model = new ConvViT(cfg))
                {
                    LoadWeights(model, folder, nParams);
                    RunClassifier(model, io, batch, checks);
                }
                break;
            default:
                Assert.Fail($"fixture '{fixture}': unknown kind '{kind}'");
                break;
        }
        Compare.AssertAll(output, checks, $"fixture '{fixture}'");
    }

    /// <summary>Loads model.safetensors with PyBridge and asserts zero missing, zero unexpected, equal shapes, n_params.</summary>
    static void LoadWeights(nn.Module model, string folder, long nParams)
    {
        var path = Path.Combine(folder, "model.safetensors");
        using var file = Checkpoints.ReadStateDict(path);
        var state = model.state_dict();
        var missing = state.Keys.Except(file.Keys).ToList();
        var unexpected = file.Keys.Except(state.Keys).ToList();
        Assert.True(missing.Count == 0 && unexpected.Count == 0,
            $"state_dict keys differ: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]");
        var badShapes = state.Where(kv => !kv.Value.shape.SequenceEqual(file[kv.Key].shape))
            .Select(kv => $"{kv.Key}: {Compare.Shape(kv.Value)} vs file {Compare.Shape(file[kv.Key])}").ToList();
        Assert.True(badShapes.Count == 0, "shape mismatch: " + string.Join("; ", badShapes));
        Assert.Equal(nParams, model.StateCount());

        var loaded = new Dictionary<string, bool>();
        model.load_safetensors(path, strict: true, loadedParameters: loaded);
        Assert.DoesNotContain(loaded, kv => !kv.Value);                     // nothing unexpected
        Assert.Equal(state.Keys.OrderBy(k => k), loaded.Keys.OrderBy(k => k)); // every key loaded
        foreach (var (k, t) in model.state_dict())                           // values really copied
            Assert.True(t.detach().eq(file[k]).all().item<bool>(), $"{k} was not loaded");
    }

    static void RunPretrain(MaskedAutoencoderConvViT model, ConvViTConfig cfg, IReadOnlyDictionary<string, Tensor> io,
                            long batch, List<Check> checks)
    {
        model.eval();
        model.zero_grad();
        var imgs = io["imgs"];
        Assert.Equal(batch, imgs.shape[0]);
        var handled = new HashSet<string> { "imgs", "noise" };
        using var output = model.Forward(imgs, io["noise"], cfg.MaskRatio);

        void Check(string name, Func<string, Tensor, Tensor, Check> cmp, Tensor actual)
        {
            if (!io.TryGetValue(name, out var expected)) return;
            handled.Add(name);
            checks.Add(cmp(name, actual, expected));
        }
        Check("mask", Compare.Exact, output.Mask);
        Check("ids_restore", Compare.Exact, output.IdsRestore);
        Check("latent", (n, a, e) => Compare.Close(n, a, e, ForwardTol), output.Latent);
        Check("pred", (n, a, e) => Compare.Close(n, a, e, ForwardTol), output.Pred);
        using var target = model.Patchify(imgs);
        Check("target", (n, a, e) => Compare.Close(n, a, e, ForwardTol), target);
        Check("loss", (n, a, e) => Compare.RelScalar(n, a, e, ScalarTol), output.Loss);

        output.Loss.backward();
        CheckGrads(model, io, handled, checks);
        checks.AddRange(io.Keys.Except(handled).Select(k => new Check(false, $"{k}: tensor in io.safetensors that this test does not check")));
    }

    static void RunClassifier(ConvViT model, IReadOnlyDictionary<string, Tensor> io, long batch, List<Check> checks)
    {
        model.eval();
        model.zero_grad();
        var imgs = io["imgs"];
        Assert.Equal(batch, imgs.shape[0]);
        var handled = new HashSet<string> { "imgs" };
        var features = model.ForwardFeatures(imgs);
        var logits = model.Head.call(features);
        var objective = logits.pow(2).mean();
        foreach (var (name, actual) in new[] { ("features", features), ("logits", logits) })
            if (io.TryGetValue(name, out var e)) { handled.Add(name); checks.Add(Compare.Close(name, actual, e, ForwardTol)); }
        if (io.TryGetValue("objective", out var obj)) { handled.Add("objective"); checks.Add(Compare.RelScalar("objective", objective, obj, ScalarTol)); }
        // forward() must agree with ForwardFeatures + head
        checks.Add(Compare.Close("forward() vs head(ForwardFeatures)", model.call(imgs), logits, 1e-6));

        objective.backward();
        CheckGrads(model, io, handled, checks);
        checks.AddRange(io.Keys.Except(handled).Select(k => new Check(false, $"{k}: tensor in io.safetensors that this test does not check")));
    }

    static void CheckGrads(nn.Module model, IReadOnlyDictionary<string, Tensor> io, HashSet<string> handled, List<Check> checks)
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (key, expected) in io.Where(kv => kv.Key.StartsWith("grad.")))
        {
            handled.Add(key);
            var name = key["grad.".Length..];
            if (!parameters.TryGetValue(name, out var p)) { checks.Add(new(false, $"{key}: no parameter named {name}")); continue; }
            if (p.grad is null) { checks.Add(new(false, $"{key}: no gradient")); continue; }
            checks.Add(Compare.Close(key, p.grad, expected, GradTol));
        }
    }
}
