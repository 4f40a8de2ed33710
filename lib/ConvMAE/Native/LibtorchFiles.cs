// One source file compiled into two assemblies: the kit (namespace ConvMAE) and convmae-env (namespace ConvMAE.Env,
// which must stay free of TorchSharp so it builds before anything is restored). Keep it dependency-free.
using System.Runtime.InteropServices;

#if CONVMAE_ENV
namespace ConvMAE.Env;
#else
namespace ConvMAE;
#endif

/// <summary>
/// Which libtorch a TorchSharp wrapper (libLibTorchSharp.so) belongs to, loading it by full path, and which copies of
/// libtorch a process has actually mapped.
///
/// Why: the wrapper names its dependencies by bare soname (libtorch.so, libc10.so, libtorch_cpu.so) with a runpath
/// of $ORIGIN. Beside a build output that works; in the NuGet cache the libraries live in another package folder
/// (libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native), so the system loader either fails ("libtorch.so: cannot
/// open shared object file") or, where Debian's python3-torch is installed or LD_LIBRARY_PATH names a Python torch,
/// silently picks up that other libtorch. Loading the package's libraries by full path first makes every later
/// by-name lookup resolve to them: glibc matches a requested name against the sonames of objects already loaded.
/// </summary>
internal static class LibtorchFiles
{
    public const string Wrapper = "libLibTorchSharp.so";

    /// <summary>The libraries loaded before the wrapper, dependencies first. libtorch_cpu.so also needs the
    /// package's own OpenMP runtime (libgomp-&lt;hash&gt;.so.1), which is loaded first by pattern.</summary>
    static readonly string[] LoadOrder = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    public static string Rid => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";

    /// <summary>
    /// The folder holding the libtorch that belongs to <paramref name="wrapper"/>: the wrapper's own folder when
    /// libtorch_cpu.so sits beside it (build outputs), else, for the NuGet cache layout
    /// <c>&lt;packages&gt;/torchsharp/&lt;v&gt;/runtimes/&lt;rid&gt;/native/</c>, the libtorch-cpu-&lt;rid&gt; package at the
    /// version the TorchSharp-cpu package names. Null when neither applies (a CUDA package layout, for example).
    /// </summary>
    public static string? LibtorchDirFor(string wrapper)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(wrapper))!;
        if (File.Exists(Path.Combine(dir, "libtorch_cpu.so"))) return dir;
        // <packages>/torchsharp/<v>/runtimes/<rid>/native
        var native = new DirectoryInfo(dir);
        var rid = native.Parent;
        var version = rid?.Parent?.Parent;
        var packages = version?.Parent?.Parent;
        if (native.Name != "native" || rid?.Parent?.Name != "runtimes" || version is null || packages is null
            || !string.Equals(version.Parent!.Name, "torchsharp", StringComparison.OrdinalIgnoreCase))
            return null;
        var libtorchPackage = Path.Combine(packages.FullName, $"libtorch-cpu-{rid.Name}");
        if (!Directory.Exists(libtorchPackage)) return null;
        var libtorchVersion = LibtorchVersionNamedBy(Path.Combine(packages.FullName, "torchsharp-cpu", version.Name, "torchsharp-cpu.nuspec"));
        var versions = Directory.GetDirectories(libtorchPackage).Select(Path.GetFileName).ToList();
        var chosen = libtorchVersion is not null && versions.Contains(libtorchVersion) ? libtorchVersion
                   : versions.Count == 1 ? versions[0] : null;
        if (chosen is null)
            throw new InvalidOperationException(
                $"{libtorchPackage} holds libtorch versions {string.Join(", ", versions)}; TorchSharp {version.Name} needs " +
                (libtorchVersion ?? "one named in torchsharp-cpu.nuspec, which is missing") + ": restore the solution again");
        var found = Path.Combine(libtorchPackage, chosen!, "runtimes", rid.Name, "native");
        return File.Exists(Path.Combine(found, "libtorch_cpu.so")) ? found : null;
    }

    /// <summary>The libtorch-cpu version in a TorchSharp-cpu nuspec (<c>&lt;dependency id="libtorch-cpu" version="2.10.0"</c>).</summary>
    static string? LibtorchVersionNamedBy(string nuspec)
    {
        if (!File.Exists(nuspec)) return null;
        var m = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(nuspec),
            @"<dependency\s+id=""libtorch-cpu""\s+version=""\[?([^"",\]]+)");
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>The full paths <see cref="LoadPinned"/> loads for <paramref name="wrapper"/>, in order.</summary>
    public static IReadOnlyList<string> PinnedLoadOrder(string wrapper)
    {
        var libtorch = LibtorchDirFor(wrapper)
            ?? throw new FileNotFoundException($"no libtorch_cpu.so beside {wrapper} nor in a libtorch-cpu-{Rid} NuGet package", wrapper);
        var openmp = Directory.GetFiles(libtorch, "libgomp-*.so*").Order(StringComparer.Ordinal);
        return openmp.Concat(LoadOrder.Select(n => Path.Combine(libtorch, n)).Where(File.Exists))
                     .Append(Path.GetFullPath(wrapper)).ToList();
    }

    /// <summary>Loads the wrapper's own libtorch by full path, then the wrapper. Returns the paths loaded.</summary>
    public static IReadOnlyList<string> LoadPinned(string wrapper)
    {
        var order = PinnedLoadOrder(wrapper);
        foreach (var lib in order) NativeLibrary.Load(lib);
        return order;
    }

    /// <summary>True for the files this check is about: libtorch*.so, libc10*.so and the wrapper.</summary>
    public static bool IsTorchLibrary(string fileName) =>
        fileName.StartsWith("libtorch", StringComparison.Ordinal) || fileName.StartsWith("libc10", StringComparison.Ordinal)
        || fileName.StartsWith("libLibTorchSharp", StringComparison.Ordinal);

    /// <summary>Distinct files of libtorch, c10 and the wrapper mapped into this process (from /proc/self/maps).</summary>
    public static IReadOnlyList<string> Mapped() => MappedIn(File.ReadAllLines("/proc/self/maps"));

    /// <summary>The same, from the lines of a maps file (address perms offset dev inode path).</summary>
    public static IReadOnlyList<string> MappedIn(IEnumerable<string> mapsLines) =>
        mapsLines.Select(MapsFields)
                 .Where(f => f is { Path: var p } && p.StartsWith('/'))
                 .Select(f => f!.Value.Path)
                 .Where(p => IsTorchLibrary(Path.GetFileName(p)))
                 .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>The fields of one /proc/self/maps line that the kit reads: the address range ("7f00…-7f01…", hex), the
    /// permissions ("rw-p") and the file's path; null for a line without a path (anonymous memory).</summary>
    public static (string Range, string Perms, string Path)? MapsFields(string line)
    {
        var f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        return f.Length == 6 ? (f[0], f[1], f[5].Trim()) : null;
    }

    /// <summary>Mapped torch libraries that come from none of <paramref name="allowedDirs"/> (compared after resolving
    /// symbolic links, as the kernel writes resolved paths into the maps file).</summary>
    public static IReadOnlyList<string> Foreign(IEnumerable<string> mapped, IEnumerable<string> allowedDirs)
    {
        var allowed = allowedDirs.Select(RealPath).ToHashSet(StringComparer.Ordinal);
        return mapped.Where(p => !allowed.Contains(Path.GetDirectoryName(RealPath(p))!)).ToList();
    }

    /// <summary>The folders a pinned load of <paramref name="wrapper"/> may map torch libraries from: the wrapper's
    /// folder and the folders its libtorch files resolve to.</summary>
    public static IReadOnlyList<string> AllowedDirs(string wrapper) =>
        PinnedLoadOrder(wrapper).Select(p => Path.GetDirectoryName(RealPath(p))!)
                                .Append(Path.GetDirectoryName(Path.GetFullPath(wrapper))!)
                                .Distinct(StringComparer.Ordinal).ToList();

    /// <summary>One message naming every foreign copy, or null when there is none.</summary>
    public static string? ForeignMessage(IReadOnlyList<string> foreign, IEnumerable<string> allowedDirs) =>
        foreign.Count == 0 ? null
            : $"a libtorch other than TorchSharp's own is mapped: {string.Join(", ", foreign)} (expected only files from " +
              $"{string.Join(" or ", allowedDirs)}). A system libtorch (Debian's python3-torch, libtorch-dev) or LD_LIBRARY_PATH " +
              "was searched before the package's; unset LD_LIBRARY_PATH, and load the kit before anything else touches TorchSharp.";

    [DllImport("libc", EntryPoint = "realpath", SetLastError = true)]
    static extern IntPtr realpath(string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    static extern void free(IntPtr p);

    /// <summary>The canonical absolute path (symbolic links resolved); the path itself when it does not exist.</summary>
    public static string RealPath(string path)
    {
        var p = realpath(path, IntPtr.Zero);
        if (p == IntPtr.Zero) return Path.GetFullPath(path);
        try { return Marshal.PtrToStringUTF8(p)!; }
        finally { free(p); }
    }
}
