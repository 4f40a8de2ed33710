using ConvMAE.Env;

// convmae-env: set-up, notebook execution and report checks. `convmae-env help` lists the commands.
var repo = Repo.Find();
var cmd = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToList();
try
{
    switch (cmd)
    {
        case "setup":
            new Setup(repo, Console.Out).RunAll();
            return 0;
        case "patch-torchsharp":
            foreach (var f in rest.Count > 0 ? rest : new Setup(repo, Console.Out).TorchSharpNativeFiles())
                Console.WriteLine($"{f}: {GlibcxxCompat.Apply(f)}");
            return 0;
        case "can-load":
            return CanLoad(rest.Single());
        case "run-notebooks":
            return RunNotebooks(rest);
        case "check-report":
            return CheckReport(rest);
        default:
            Console.WriteLine("""
                convmae-env setup                      idempotent .NET-side set-up (see environment/setup.sh)
                convmae-env patch-torchsharp [FILE..]  apply the libstdc++ edit to libLibTorchSharp.so files
                convmae-env can-load FILE              exit 0 when the native library loads in this fresh process; for
                                                       libLibTorchSharp.so, with its package's libtorch loaded by full
                                                       path first, and only that libtorch mapped afterwards
                convmae-env run-notebooks [--smoke] [--out DIR] [NOTEBOOK..]
                                                       execute notebooks (default: notebooks/*.ipynb) into reports/
                convmae-env check-report HTML [--min-svgs N] [--min-images N]
                                                       open a report in headless Chromium (no network) and count
                                                       rendered Plotly svg.main-svg elements and kit images
                """);
            return cmd == "help" ? 0 : 2;
    }
}
catch (Exception e) when (e is IOException or InvalidOperationException or InvalidDataException or TimeoutException)
{
    Console.Error.WriteLine($"convmae-env {cmd}: {e.Message}");
    return 1;
}

// Loads a native library in this (TorchSharp-free) process: exit 0 if it loads, else 1 with the loader's message.
// A TorchSharp wrapper is loaded as the kit loads it (its own libtorch by full path first, never one found on the
// system's search path), and the load counts only if no other libtorch ended up mapped.
int CanLoad(string file)
{
    var path = Path.GetFullPath(file);
    try
    {
        if (Path.GetFileName(path) != LibtorchFiles.Wrapper)
        {
            System.Runtime.InteropServices.NativeLibrary.Load(path);
            Console.WriteLine("loads");
            return 0;
        }
        LibtorchFiles.LoadPinned(path);
        var allowed = LibtorchFiles.AllowedDirs(path);
        var mapped = LibtorchFiles.Mapped();
        if (LibtorchFiles.ForeignMessage(LibtorchFiles.Foreign(mapped, allowed), allowed) is { } problem)
        {
            Console.WriteLine(problem);
            return 1;
        }
        Console.WriteLine($"loads, with libtorch from {LibtorchFiles.LibtorchDirFor(path)}");
        foreach (var lib in mapped) Console.WriteLine($"mapped {lib}");
        return 0;
    }
    catch (Exception e) when (e is DllNotFoundException or FileNotFoundException or InvalidOperationException)
    {
        Console.WriteLine(e.Message);
        return 1;
    }
}

int RunNotebooks(List<string> a)
{
    bool smoke = a.Remove("--smoke") || Environment.GetEnvironmentVariable("CONVMAE_SMOKE") == "1";
    var outDir = repo.Reports;
    int i = a.IndexOf("--out");
    if (i >= 0) { outDir = Path.GetFullPath(a[i + 1]); a.RemoveRange(i, 2); }
    var notebooks = a.Count > 0 ? a : Directory.GetFiles(repo.Notebooks, "*.ipynb").Order(StringComparer.Ordinal).ToList();
    var runner = new NotebookRunner(repo, Console.Out);
    int failed = 0;
    foreach (var nb in notebooks)
    {
        var result = runner.Run(nb, outDir, smoke);
        if (result.Succeeded) continue;
        failed++;
        Console.Error.WriteLine($"{Path.GetFileName(nb)}: {result.Errors[0]}");
    }
    Console.WriteLine($"[notebook] {notebooks.Count - failed} of {notebooks.Count} notebook(s) ran without error; reports in {outDir}");
    return failed == 0 ? 0 : 1;
}

int CheckReport(List<string> a)
{
    int Take(string flag, int dflt)
    {
        int j = a.IndexOf(flag);
        if (j < 0) return dflt;
        var v = int.Parse(a[j + 1]);
        a.RemoveRange(j, 2);
        return v;
    }
    int minCharts = Take("--min-svgs", 1), minImages = Take("--min-images", 0);
    var f = ReportCheck.Inspect(a.Single());
    Console.WriteLine($"{a[0]}: {f.PlotlySvgs} Plotly svg.main-svg element(s), {f.RenderedKitImages} rendered kit image(s)");
    return f.PlotlySvgs >= minCharts && f.RenderedKitImages >= minImages ? 0 : 1;
}
