using static TorchSharp.torch;

namespace ConvMAE.Tests.Support;

/// <summary>One comparison: whether it passed and a line with the measured difference and the tolerance.</summary>
internal sealed record Check(bool Ok, string Line);

/// <summary>The tolerances of shared/parity/README.md.</summary>
internal static class Compare
{
    public static string Shape(Tensor t) => "[" + string.Join(",", t.shape) + "]";

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
