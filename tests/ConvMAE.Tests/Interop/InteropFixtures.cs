using Xunit;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Interop;

/// <summary>Where the read-only parity fixtures are, found by scanning for config.json (never a fixed list).</summary>
internal static class InteropFixtures
{
    public static string RepoRoot => TestPaths.RepoRoot;

    public static string ParityDir => TestPaths.ParityDir;
    public static string BackbonesDir => TestPaths.BackbonesDir;

    public static IReadOnlyList<string> Folders(string root)
    {
        var found = Directory.Exists(root)
            ? Directory.EnumerateDirectories(root).Where(d => File.Exists(Path.Combine(d, "config.json"))).Order().ToList()
            : [];
        if (found.Count == 0) throw new InvalidOperationException($"no fixture folders with a config.json under {root}");
        return found;
    }

    public static TheoryData<string> ParityFolders() => ToTheory(Folders(ParityDir));
    public static TheoryData<string> BackboneFolders() => ToTheory(Folders(BackbonesDir));

    private static TheoryData<string> ToTheory(IEnumerable<string> folders)
    {
        var t = new TheoryData<string>();
        foreach (var f in folders) t.Add(Path.GetFileName(f));
        return t;
    }

    public static string Parity(string name, string file) => Path.Combine(ParityDir, name, file);
    public static string Backbone(string name, string file) => Path.Combine(BackbonesDir, name, file);

    public static JsonElement Config(string folder) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))).RootElement;
}

/// <summary>
/// A stand-in for the real ConvMAE modules in these tests: a TorchSharp module tree built from a key → shape map,
/// so that its registered names are exactly the given state-dict keys (float tensors become parameters, integer
/// tensors persistent buffers). The checkpoint code under test only sees an ordinary nn.Module.
/// </summary>
internal sealed class ShapeModule : nn.Module
{
    private ShapeModule(string name) : base(name) { }

    public static ShapeModule Build(IEnumerable<(string Key, long[] Shape, ScalarType DType)> entries, Func<string, long[], ScalarType, Tensor>? init = null)
    {
        init ??= (_, shape, dtype) => torch.zeros(shape, dtype: dtype);
        var root = new ShapeModule("root");
        foreach (var (key, shape, dtype) in entries)
        {
            var parts = key.Split('.');
            ShapeModule node = root;
            foreach (var p in parts[..^1])
            {
                var child = node.named_children().FirstOrDefault(c => c.name == p).module as ShapeModule;
                if (child is null)
                {
                    child = new ShapeModule(p);
                    node.register_module(p, child);
                }
                node = child;
            }
            var t = init(key, shape, dtype);
            if (t.is_floating_point()) node.register_parameter(parts[^1], nn.Parameter(t));
            else node.register_buffer(parts[^1], t);
        }
        return root;
    }

    public static ShapeModule Build(IEnumerable<KeyValuePair<string, Tensor>> like, Func<string, long[], ScalarType, Tensor>? init = null) =>
        Build(like.Select(kv => (kv.Key, kv.Value.shape, kv.Value.dtype)), init);
}

internal static class TensorAssert
{
    public static void Equal(Tensor expected, Tensor actual, string key)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{key}: shape {Fmt(actual.shape)}, expected {Fmt(expected.shape)}");
        Assert.True(expected.dtype == actual.dtype, $"{key}: dtype {actual.dtype}, expected {expected.dtype}");
        Assert.True(expected.Equals(actual), $"{key}: values differ");   // torch.equal semantics
    }

    /// <summary>max |a - e| ≤ tol × (1 + max |e|), the parity README's form.</summary>
    public static void Close(Tensor expected, Tensor actual, double tol, string key)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{key}: shape {Fmt(actual.shape)}, expected {Fmt(expected.shape)}");
        using var scope = torch.NewDisposeScope();
        double diff = (actual.to(float64) - expected.to(float64)).abs().max().item<double>();
        double bound = tol * (1 + expected.to(float64).abs().max().item<double>());
        Assert.True(diff <= bound, $"{key}: max abs difference {diff:g3} > {bound:g3}");
    }

    public static string Fmt(long[] s) => "[" + string.Join(",", s) + "]";

    /// <summary>The message is one line and starts with the file.</summary>
    public static void OneLineNaming(Exception e, string path)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        Assert.StartsWith(path + ": ", e.Message);
    }
}
