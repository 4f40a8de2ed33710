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
        (".NET", System.Environment.Version.ToString()),
        ("OS", System.Runtime.InteropServices.RuntimeInformation.OSDescription),
        ("Device", cuda.is_available() ? $"CUDA ({cuda.device_count()} device(s))" : "CPU"),
        ("Threads", get_num_threads().ToString()),
        ("Processors", System.Environment.ProcessorCount.ToString()),
    ];
}
