using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE;

/// <summary>Where the kit runs: device choice and a description of the runtime for reports.</summary>
public static class Runtime
{
    /// <summary>"auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".</summary>
    public static Device ResolveDevice(string spec = "auto")
    {
        spec = spec.Trim().ToLowerInvariant();
        if (spec == "auto") return cuda.is_available() ? CUDA : CPU;
        if (spec.StartsWith("cuda") && !cuda.is_available())
            throw new ArgumentException($"--device {spec}: CUDA is not available in this build " +
                                        "(the default build uses TorchSharp-cpu; see README, CUDA)");
        return new Device(spec);
    }

    /// <summary>One line per fact: versions, device, threads. Printed by notebooks and recorded in reports.</summary>
    public static IReadOnlyList<(string Name, string Value)> Describe() =>
    [
        ("ConvMAE kit", typeof(Runtime).Assembly.GetName().Version?.ToString() ?? "?"),
        ("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString() ?? "?"),
        ("LibTorch", torch.__version__),
        ("libtorch from", NativeTorch.LibtorchDir ?? "(found by TorchSharp itself)"),
        (".NET", System.Environment.Version.ToString()),
        ("OS", System.Runtime.InteropServices.RuntimeInformation.OSDescription),
        ("Device", cuda.is_available() ? $"CUDA ({cuda.device_count()} device(s))" : "CPU"),
        ("Threads", get_num_threads().ToString()),
        ("Processors", System.Environment.ProcessorCount.ToString()),
        ("CPU", CpuFeatures.Current.Describe()),
        ("Memory", HeapReuse.Describe()),
        ("MKL kernels", MklDispatch.Describe()),
    ];

    /// <summary>Computes one small product and checks it by hand: proves libtorch runs, not only that it loaded.</summary>
    public static string SelfCheck()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var p = a.matmul(a).data<float>().ToArray();   // [[7, 10], [15, 22]]
        if (!p.SequenceEqual(new float[] { 7, 10, 15, 22 }))
            throw new InvalidOperationException($"libtorch computed [[1,2],[3,4]]² = [{string.Join(", ", p)}], expected [7, 10, 15, 22]");
        return "[[1,2],[3,4]]² = [[7,10],[15,22]]";
    }

    /// <summary>Every libtorch*, libc10* and libLibTorchSharp* file mapped into this process (from /proc/self/maps).</summary>
    public static IReadOnlyList<string> MappedTorchLibraries() => LibtorchFiles.Mapped();
}
