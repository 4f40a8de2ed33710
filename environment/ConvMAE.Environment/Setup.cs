using System.Formats.Tar;
using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConvMAE.Env;

/// <summary>
/// The .NET half of set-up (environment/setup.sh does apt and restore first). Each step is idempotent and
/// prints what it did or that nothing was needed; <see cref="Changed"/> counts the steps that changed something.
/// </summary>
public sealed class Setup(Repo repo, TextWriter log)
{
    public int Changed { get; private set; }

    void Did(string step, string what) { Changed++; log.WriteLine($"[setup] {step}: {what}"); }
    void Skip(string step, string why) => log.WriteLine($"[setup] {step}: nothing needed ({why})");

    public void RunAll()
    {
        PatchTorchSharp();
        CheckTorchSharpLoads();
        InstallInteractiveTool();
        AlignFSharpCore();
        InstallKernelSpec();
        FetchPlotlyJs();
        InstallPlotlyForLiveNotebooks();
        log.WriteLine(Changed == 0 ? "[setup] everything was already in place; nothing changed"
                                   : $"[setup] done: {Changed} step(s) changed something");
    }

    /// <summary>Every libLibTorchSharp.so that builds and notebooks load: the NuGet cache copy and build outputs.</summary>
    public IEnumerable<string> TorchSharpNativeFiles()
    {
        var cache = Path.Combine(Repo.NuGetPackages(), "torchsharp");
        var roots = new[] { cache, Path.Combine(repo.Root, "artifacts") }.Where(Directory.Exists);
        return roots.SelectMany(r => Directory.EnumerateFiles(r, "libLibTorchSharp.so", SearchOption.AllDirectories))
                    .Order(StringComparer.Ordinal);
    }

    public void PatchTorchSharp()
    {
        const string step = "libstdc++ compatibility of libLibTorchSharp.so";
        if (GlibcxxCompat.SystemProvidesVersion()) { Skip(step, $"system libstdc++ has {GlibcxxCompat.Version}"); return; }
        var files = TorchSharpNativeFiles().ToList();
        if (files.Count == 0)
            throw new InvalidOperationException($"{step}: no libLibTorchSharp.so under {Repo.NuGetPackages()}; run `dotnet restore` first");
        foreach (var f in files)
        {
            var r = GlibcxxCompat.Apply(f, systemProvidesVersion: false);
            if (r == CompatResult.Patched)
            {
                Did(step, $"edited {f} (original kept as {Path.GetFileName(f)}.orig)");
                var check = CanLoad(f);
                if (!check.Loads) throw new InvalidOperationException($"{step}: {f} still does not load after the edit: {check.Message}");
            }
            else Skip(step, $"{f}: {(r == CompatResult.AlreadyCompatible ? "already edited" : "does not need " + GlibcxxCompat.Version)}");
        }
    }

    /// <summary>The NuGet cache's wrapper (the one notebook kernels load) loads with its own package's libtorch
    /// and nothing else, on every run: an edit made by an earlier, interrupted run is checked too.</summary>
    public void CheckTorchSharpLoads()
    {
        const string step = "libtorch load check";
        var wrapper = Path.Combine(Repo.NuGetPackages(), "torchsharp", Versions.TorchSharp, "runtimes", LibtorchFiles.Rid, "native", LibtorchFiles.Wrapper);
        if (!File.Exists(wrapper))
            throw new InvalidOperationException($"{step}: {wrapper} is missing; run `dotnet restore ConvMAE.Notebooks.sln` first");
        var check = CanLoad(wrapper);
        if (!check.Loads) throw new InvalidOperationException($"{step}: {wrapper} does not load: {check.Message}");
        log.WriteLine($"[setup] {step}: {check.Message.Split('\n')[0]}");
    }

    /// <summary>Whether a native library loads, tried in a child process so this one stays clean
    /// (the child is this program's own can-load command).</summary>
    public static (bool Loads, string Message) CanLoad(string library)
    {
        // The apphost sits next to this assembly, in its own bin folder and in any that references it (the tests').
        var self = Path.Combine(AppContext.BaseDirectory, "convmae-env");
        if (!File.Exists(self)) throw new FileNotFoundException($"cannot locate convmae-env beside {AppContext.BaseDirectory}", self);
        var r = Proc.Run(self, ["can-load", library]);
        return (r.ExitCode == 0, r.Combined.Trim());
    }

    string ToolStoreDir => Path.Combine(repo.Tools, ".store", "microsoft.dotnet-interactive", Versions.DotnetInteractive,
                                        "microsoft.dotnet-interactive", Versions.DotnetInteractive, "tools");

    public void InstallInteractiveTool()
    {
        const string step = "dotnet-interactive tool";
        if (File.Exists(repo.InteractiveTool) && Directory.Exists(ToolStoreDir))
        {
            Skip(step, $"{Versions.DotnetInteractive} already in {repo.Tools}");
            return;
        }
        if (File.Exists(repo.InteractiveTool)) // another version: replace it
            Proc.Check("dotnet", ["tool", "uninstall", "Microsoft.dotnet-interactive", "--tool-path", repo.Tools]);
        Proc.Check("dotnet", ["tool", "install", "Microsoft.dotnet-interactive", "--version", Versions.DotnetInteractive,
                              "--tool-path", repo.Tools], timeout: TimeSpan.FromMinutes(10));
        Did(step, $"installed {Versions.DotnetInteractive} into {repo.Tools}");
    }

    /// <summary>The tool ships FSharp.Core 10.0.0.0; Plotly.NET 6 needs 10.1.0.0. Replace the tool's copy
    /// with the FSharp.Core package's (restored by the solution) so charts load in the kernel.</summary>
    public void AlignFSharpCore()
    {
        const string step = "FSharp.Core of the dotnet-interactive tool";
        var wanted = Path.Combine(Repo.NuGetPackages(), "fsharp.core", Versions.FSharpCore, "lib", "netstandard2.1", "FSharp.Core.dll");
        if (!File.Exists(wanted))
            throw new FileNotFoundException($"{step}: {wanted} is missing; run `dotnet restore ConvMAE.Notebooks.sln` first", wanted);
        var targets = Directory.EnumerateFiles(ToolStoreDir, "FSharp.Core.dll", SearchOption.AllDirectories)
                               .Where(p => Path.GetFileName(Path.GetDirectoryName(p)) == "any").ToList();
        if (targets.Count == 0) throw new FileNotFoundException($"{step}: no FSharp.Core.dll under {ToolStoreDir}");
        var wantedBytes = File.ReadAllBytes(wanted);
        foreach (var t in targets)
        {
            if (File.ReadAllBytes(t).AsSpan().SequenceEqual(wantedBytes)) { Skip(step, $"already {Versions.FSharpCore}"); continue; }
            var before = AssemblyName.GetAssemblyName(t).Version;
            File.Copy(wanted, t + ".tmp", overwrite: true);
            File.Move(t + ".tmp", t, overwrite: true);
            Did(step, $"replaced {before} by {AssemblyName.GetAssemblyName(t).Version} ({Versions.FSharpCore}) in {t}");
        }
    }

    /// <summary>Kernel spec whose argv names this clone's tool by absolute path (CI's PATH lacks ~/.dotnet/tools).
    /// Written to .tools/jupyter (used by the notebook runner) and to the user's Jupyter data folder.</summary>
    public void InstallKernelSpec()
    {
        const string step = "Jupyter kernelspec .net-csharp";
        var spec = new JsonObject
        {
            // --http-local-only: the kernel's HTTP API listens on loopback only, and the bootstrap script it sends to
            // a live page probes 127.0.0.1 alone (not every interface address of the machine).
            ["argv"] = new JsonArray(repo.InteractiveTool, "jupyter", "--default-kernel", "csharp", "{connection_file}",
                                     "--http-port-range", "2048-3000", "--http-local-only"),
            ["display_name"] = ".NET (C#)",
            ["language"] = "C#",
            ["env"] = new JsonObject { ["DOTNET_ROOT"] = DotnetRoot(), ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                                       ["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1" },
        };
        var text = spec.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        foreach (var kernels in new[] { Path.Combine(repo.JupyterPath, "kernels"), UserJupyterKernels() })
        {
            var file = Path.Combine(kernels, ".net-csharp", "kernel.json");
            if (File.Exists(file) && File.ReadAllText(file) == text) { Skip(step, $"{file} is current"); continue; }
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, text);
            Did(step, $"wrote {file}");
        }
    }

    /// <summary>plotly.js where a live notebook page finds it without network: the notebook server serves the
    /// nbextensions/ folder of each Jupyter data folder (this clone's .tools/jupyter and the user's), and the kit's
    /// chart formatter asks for <c>nbextensions/convmae/plotly-&lt;v&gt;.min.js</c> before it tries the CDN.</summary>
    public void InstallPlotlyForLiveNotebooks()
    {
        const string step = "plotly.js for live notebooks";
        var bytes = File.ReadAllBytes(repo.PlotlyJs);
        foreach (var data in new[] { repo.JupyterPath, UserJupyterData() })
        {
            var file = Path.Combine(data, "nbextensions", "convmae", Path.GetFileName(repo.PlotlyJs));
            if (File.Exists(file) && File.ReadAllBytes(file).AsSpan().SequenceEqual(bytes)) { Skip(step, $"{file} is current"); continue; }
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file + ".tmp", bytes);
            File.Move(file + ".tmp", file, overwrite: true);
            Did(step, $"wrote {file}");
        }
    }

    static string UserJupyterKernels() => Path.Combine(UserJupyterData(), "kernels");

    /// <summary>The user's Jupyter data folder: JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter.</summary>
    public static string UserJupyterData()
    {
        var data = Environment.GetEnvironmentVariable("JUPYTER_DATA_DIR");
        if (string.IsNullOrEmpty(data))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
            data = Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".local", "share") : xdg, "jupyter");
        }
        return data;
    }

    static string DotnetRoot()
    {
        var env = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(env)) return env;
        var dotnet = Proc.Which("dotnet") ?? "/usr/share/dotnet/dotnet";
        return Path.GetDirectoryName(new FileInfo(dotnet).ResolveLinkTarget(true)?.FullName ?? dotnet)!;
    }

    /// <summary>plotly.js, inlined into HTML reports so their charts render with no network.</summary>
    public void FetchPlotlyJs()
    {
        const string step = "plotly.js for offline reports";
        if (File.Exists(repo.PlotlyJs)) { Skip(step, $"{repo.PlotlyJs} present"); return; }
        var tmp = Directory.CreateTempSubdirectory("convmae-plotly-");
        try
        {
            var npm = Proc.Which("npm") ?? throw new InvalidOperationException($"{step}: npm is not on PATH (install Node.js)");
            Proc.Check(npm, ["pack", $"plotly.js-dist-min@{Versions.PlotlyJs}", "--silent"], workDir: tmp.FullName,
                       timeout: TimeSpan.FromMinutes(5));
            var tgz = Directory.GetFiles(tmp.FullName, "*.tgz").Single();
            using var gz = new GZipStream(File.OpenRead(tgz), CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.Name != "package/plotly.min.js") continue;
                Directory.CreateDirectory(Path.GetDirectoryName(repo.PlotlyJs)!);
                entry.ExtractToFile(repo.PlotlyJs + ".tmp", overwrite: true);
                File.Move(repo.PlotlyJs + ".tmp", repo.PlotlyJs, overwrite: true);
                Did(step, $"wrote {repo.PlotlyJs}");
                return;
            }
            throw new InvalidDataException($"{step}: {tgz} has no package/plotly.min.js");
        }
        finally { tmp.Delete(recursive: true); }
    }
}
