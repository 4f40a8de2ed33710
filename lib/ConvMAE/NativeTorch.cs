using System.Runtime.InteropServices;

namespace ConvMAE;

/// <summary>
/// Pins the libtorch that TorchSharp was built for before TorchSharp initialises, when running from the NuGet
/// cache (notebook kernels load TorchSharp from there, not from a bin folder).
///
/// Why: in a kernel, TorchSharp first probes "torch_cpu" by bare name. On a machine that also has a system
/// libtorch (Debian's python3-torch puts libtorch 1.13 in /lib/x86_64-linux-gnu) that probe loads the wrong
/// libtorch_cpu.so, and libLibTorchSharp.so then fails to load against it. Loading the package's own libraries
/// by full path first makes every later by-name lookup resolve to them (the loader matches loaded sonames).
/// </summary>
public static class NativeTorch
{
    static readonly object Gate = new();
    static bool done;

    /// <summary>Full paths loaded, in order (empty when TorchSharp runs from a build output folder).</summary>
    public static IReadOnlyList<string> Loaded { get; private set; } = [];

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (done) return;
            done = true;
            if (!OperatingSystem.IsLinux()) return;
            var torchSharpDll = typeof(TorchSharp.torch).Assembly.Location;   // <packages>/torchsharp/<v>/lib/<tfm>/TorchSharp.dll
            if (string.IsNullOrEmpty(torchSharpDll)) return;
            var versionDir = Directory.GetParent(torchSharpDll)?.Parent?.Parent;   // <packages>/torchsharp/<v>
            var packages = versionDir?.Parent?.Parent;
            if (versionDir is null || packages is null || !string.Equals(versionDir.Parent!.Name, "torchsharp", StringComparison.OrdinalIgnoreCase))
                return;   // running from a bin folder: TorchSharp finds its libraries next to itself
            var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
            var wrapper = Path.Combine(versionDir.FullName, "runtimes", rid, "native", "libLibTorchSharp.so");
            var libtorchNative = Directory.Exists(Path.Combine(packages.FullName, $"libtorch-cpu-{rid}"))
                ? Directory.GetDirectories(Path.Combine(packages.FullName, $"libtorch-cpu-{rid}"))
                           .Select(d => Path.Combine(d, "runtimes", rid, "native"))
                           .Where(Directory.Exists).Order(StringComparer.Ordinal).LastOrDefault()
                : null;
            if (libtorchNative is null || !File.Exists(wrapper)) return;   // e.g. a CUDA package layout: leave it to TorchSharp
            var order = new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" }
                .Select(n => Path.Combine(libtorchNative, n)).Where(File.Exists).Append(wrapper).ToList();
            foreach (var lib in order) NativeLibrary.Load(lib);
            Loaded = order;
        }
    }
}
