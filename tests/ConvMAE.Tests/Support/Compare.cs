using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Support;

/// <summary>One comparison: whether it passed and a line with the measured difference and the tolerance.</summary>
internal sealed record Check(bool Ok, string Line);

/// <summary>The tolerances of shared/parity/README.md.</summary>
internal static class Compare
{
    public static string Shape(Tensor t) => "[" + string.Join(",", t.shape) + "]";

    /// <summary>Writes every check to the test's output and fails with the failed checks' lines (after
    /// <paramref name="context"/> and a colon, when given).</summary>
    public static void AssertAll(ITestOutputHelper output, IReadOnlyCollection<Check> checks, string? context = null)
    {
        foreach (var c in checks) output.WriteLine((c.Ok ? "ok   " : "FAIL ") + c.Line);
        var failed = string.Join("\n", checks.Where(c => !c.Ok).Select(c => c.Line));
        Assert.True(checks.All(c => c.Ok), context is null ? failed : $"{context}:\n" + failed);
    }

    /// <summary>
    /// Every trainable parameter's gradient in <paramref name="actual"/> against the same-named one in
    /// <paramref name="expected"/> (<see cref="Close"/>); a gradient missing on either side is a failed check.
    /// </summary>
    public static List<Check> Gradients(nn.Module actual, nn.Module expected, double rel)
    {
        var theirs = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var checks = new List<Check>();
        foreach (var (name, p) in actual.named_parameters())
        {
            if (!p.requires_grad) continue;
            var q = theirs[name];
            checks.Add(p.grad is null || q.grad is null
                ? new Check(false, $"{name}: gradient present {p.grad is not null}, expected side {q.grad is not null}")
                : Close("grad." + name, p.grad, q.grad, rel));
        }
        return checks;
    }

    /// <summary>max |a - e| ≤ rel·(1 + max |e|).</summary>
    public static Check Close(string name, Tensor actual, Tensor expected, double rel)
    {
        if (!actual.shape.SequenceEqual(expected.shape))
            return new(false, $"{name}: shape {Shape(actual)} != expected {Shape(expected)}");
        using var a = actual.detach().to(float64);
        using var e = expected.to(float64);
        double diff = (a - e).abs().max().item<double>();
        double tol = rel * (1 + e.abs().max().item<double>());
        return new(diff <= tol, $"{name}: max abs diff {diff:e3}, tolerance {tol:e3}");
    }

    public static Check Exact(string name, Tensor actual, Tensor expected)
    {
        if (!actual.shape.SequenceEqual(expected.shape))
            return new(false, $"{name}: shape {Shape(actual)} != expected {Shape(expected)}");
        using var a = actual.to(float64);
        using var e = expected.to(float64);
        long bad = a.ne(e).sum().item<long>();
        return new(bad == 0, $"{name}: {bad} elements differ (must be exact)");
    }

    /// <summary>|a - e| ≤ rel·|e| for scalars.</summary>
    public static Check RelScalar(string name, Tensor actual, Tensor expected, double rel)
    {
        double a = actual.to(float64).reshape(-1)[0].item<double>(), e = expected.to(float64).reshape(-1)[0].item<double>();
        double d = Math.Abs(a - e) / Math.Abs(e);
        return new(d <= rel, $"{name}: {a:R} vs expected {e:R}, relative diff {d:e3}, tolerance {rel:e1}");
    }
}
