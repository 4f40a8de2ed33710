namespace ConvMAE;

/// <summary>
/// Pins the libtorch that TorchSharp was built for before TorchSharp initialises, wherever TorchSharp runs from:
/// a build output (CLI, tests, bench: the package's files copied beside TorchSharp.dll) or the NuGet cache (notebook
/// kernels load TorchSharp from there), and then checks that no other libtorch is mapped.
///
/// Why: TorchSharp first probes "torch_cpu" by bare name and the wrapper names its dependencies by soname, so a
/// system libtorch (Debian's python3-torch puts libtorch 1.13 in /lib/x86_64-linux-gnu) or an LD_LIBRARY_PATH
/// entry can be picked up instead of the package's, and libLibTorchSharp.so then fails to load against it or, worse,
/// computes with it. Loading the package's own files by full path first makes every later by-name lookup resolve to
/// them (see <see cref="LibtorchFiles"/>). Called by the CLI, <c>Kit.Load()</c>, the bench and the tests' module
/// initialiser, before anything touches TorchSharp.
/// </summary>
public static class NativeTorch
{
    static readonly object Gate = new();
    static bool done;

    /// <summary>Full paths loaded, in order (empty for a layout the kit does not know, e.g. the CUDA packages').</summary>
    public static IReadOnlyList<string> Loaded { get; private set; } = [];

    /// <summary>The folder the libtorch in use was loaded from, or null before <see cref="EnsureLoaded"/>.</summary>
    public static string? LibtorchDir { get; private set; }

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (done) return;
            done = true;
            if (!OperatingSystem.IsLinux()) return;
            var wrapper = WrapperBesideTorchSharp();
            if (wrapper is null || LibtorchFiles.LibtorchDirFor(wrapper) is null) return;   // e.g. a CUDA package layout: leave it to TorchSharp
            Loaded = LibtorchFiles.LoadPinned(wrapper);
            LibtorchDir = Path.GetDirectoryName(LibtorchFiles.RealPath(Loaded.Single(p => Path.GetFileName(p) == "libtorch_cpu.so")));
            var allowed = LibtorchFiles.AllowedDirs(wrapper);
            if (LibtorchFiles.ForeignMessage(LibtorchFiles.Foreign(LibtorchFiles.Mapped(), allowed), allowed) is { } problem)
                throw new InvalidOperationException(problem);
            var libtorchCpu = Loaded.Single(p => Path.GetFileName(p) == "libtorch_cpu.so");
            DisableNnpack(libtorchCpu);
            MklDispatch.Apply(libtorchCpu);   // before any product: MKL chooses its kernels at the first one
        }
    }

    delegate IntPtr GlobalContextFn();
    delegate void SetFlagFn(IntPtr context, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.I1)] bool value);

    /// <summary>
    /// Turns NNPACK off (torch.backends.nnpack.set_flags(False)). Why: on CPUs NNPACK does not support (these machines'
    /// EPYC and Xeon among them) libtorch 2.10 tries to initialise it on every eligible convolution and prints
    /// "Could not initialize NNPACK! Reason: Unsupported hardware." each time, hundreds of lines per training run; it
    /// then falls back to the kernels it would use anyway, so turning it off changes no result. Calls
    /// at::globalContext().setUserEnabledNNPACK(false) in the loaded libtorch_cpu.so; does nothing where the symbols
    /// are absent.
    /// </summary>
    static void DisableNnpack(string libtorchCpu)
    {
        var lib = System.Runtime.InteropServices.NativeLibrary.Load(libtorchCpu);
        if (!System.Runtime.InteropServices.NativeLibrary.TryGetExport(lib, "_ZN2at13globalContextEv", out var ctxFn)
            || !System.Runtime.InteropServices.NativeLibrary.TryGetExport(lib, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setFn))
            return;
        var context = System.Runtime.InteropServices.Marshal.GetDelegateForFunctionPointer<GlobalContextFn>(ctxFn)();
        System.Runtime.InteropServices.Marshal.GetDelegateForFunctionPointer<SetFlagFn>(setFn)(context, false);
    }

    /// <summary>Torch libraries of other origin mapped now (empty when all come from the pinned package files).</summary>
    public static IReadOnlyList<string> ForeignMapped()
    {
        var wrapper = WrapperBesideTorchSharp();
        return wrapper is null || LibtorchFiles.LibtorchDirFor(wrapper) is null ? []
             : LibtorchFiles.Foreign(LibtorchFiles.Mapped(), LibtorchFiles.AllowedDirs(wrapper));
    }

    /// <summary>The libLibTorchSharp.so that belongs to the TorchSharp.dll in use: in a build output
    /// <c>runtimes/&lt;rid&gt;/native/</c> (or flat, when published); in the NuGet cache the package's own
    /// <c>&lt;packages&gt;/torchsharp/&lt;v&gt;/runtimes/&lt;rid&gt;/native/</c> beside <c>lib/&lt;tfm&gt;/TorchSharp.dll</c>.</summary>
    static string? WrapperBesideTorchSharp()
    {
        var torchSharpDll = typeof(TorchSharp.torch).Assembly.Location;
        if (string.IsNullOrEmpty(torchSharpDll)) return null;
        var dir = Path.GetDirectoryName(torchSharpDll)!;
        string[] candidates =
        [
            Path.Combine(dir, "runtimes", LibtorchFiles.Rid, "native", LibtorchFiles.Wrapper),
            Path.Combine(dir, LibtorchFiles.Wrapper),
            Path.Combine(dir, "..", "..", "runtimes", LibtorchFiles.Rid, "native", LibtorchFiles.Wrapper),
        ];
        return candidates.Select(Path.GetFullPath).FirstOrDefault(File.Exists);
    }
}
