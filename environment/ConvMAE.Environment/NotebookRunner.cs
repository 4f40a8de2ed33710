using System.Text.Json.Nodes;

namespace ConvMAE.Env;

/// <summary>The error output of one notebook cell.</summary>
public sealed record CellError(int CellIndex, string Source, string Name, string Value, string Traceback)
{
    public override string ToString() =>
        $"cell {CellIndex} failed: {Name}: {Value}\n--- cell source ---\n{Source.TrimEnd()}\n--- traceback ---\n{Traceback.TrimEnd()}";
}

public sealed record NotebookResult(string Notebook, string ExecutedPath, string HtmlPath, IReadOnlyList<CellError> Errors,
                                    TimeSpan Elapsed)
{
    public bool Succeeded => Errors.Count == 0;
}

/// <summary>
/// Executes notebooks headless through Jupyter with this clone's .NET (C#) kernel, then exports a
/// self-contained HTML report. Output: &lt;outDir&gt;/&lt;name&gt;.ipynb (executed) and &lt;name&gt;.html.
/// </summary>
public sealed class NotebookRunner(Repo repo, TextWriter log)
{
    /// <summary>Seconds one cell may run before the run is declared failed.</summary>
    public int CellTimeoutSeconds { get; init; } = 1800;

    /// <summary>Debian's jupyter (its python has nbconvert); a pyenv python first on PATH does not.</summary>
    public static string Jupyter() =>
        File.Exists("/usr/bin/jupyter") ? "/usr/bin/jupyter"
        : Proc.Which("jupyter") ?? throw new InvalidOperationException(
            "jupyter not found: run environment/setup.sh (as root it installs jupyter-nbconvert), " +
            "or: sudo apt-get install jupyter-nbconvert jupyter-client python3-ipykernel");

    public NotebookResult Run(string notebook, string outDir, bool smoke)
    {
        notebook = Path.GetFullPath(notebook);
        if (!File.Exists(notebook)) throw new FileNotFoundException($"notebook not found: {notebook}", notebook);
        if (!File.Exists(Path.Combine(repo.JupyterPath, "kernels", ".net-csharp", "kernel.json")))
            throw new InvalidOperationException("the .NET kernel is not installed for this clone: run environment/setup.sh");
        Directory.CreateDirectory(outDir);
        var name = Path.GetFileNameWithoutExtension(notebook);
        var executed = Path.Combine(outDir, name + ".ipynb");
        var env = new Dictionary<string, string>
        {
            ["JUPYTER_PATH"] = repo.JupyterPath,
            ["CONVMAE_SMOKE"] = smoke ? "1" : "0",
            ["CONVMAE_REPO"] = repo.Root,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        var started = DateTime.UtcNow;
        log.WriteLine($"[notebook] {name}: executing ({(smoke ? "smoke" : "normal")} mode)");
        // --allow-errors: the executed notebook is always written, so a failure can be read in the report;
        // failures are found below by reading the error outputs, and turned into a non-zero exit by the caller.
        var r = Proc.Run(Jupyter(), ["nbconvert", "--to", "notebook", "--execute", "--allow-errors",
                "--ExecutePreprocessor.kernel_name=.net-csharp",
                $"--ExecutePreprocessor.timeout={CellTimeoutSeconds}", "--ExecutePreprocessor.startup_timeout=300",
                "--output-dir", outDir, "--output", name + ".ipynb", notebook],
            workDir: Path.GetDirectoryName(notebook), env: env, timeout: TimeSpan.FromHours(3));
        if (r.ExitCode != 0 || !File.Exists(executed))
            throw new InvalidOperationException($"jupyter nbconvert could not execute {notebook}:\n{r.Combined.Trim()}");
        CleanForReport(executed);
        var errors = ReadErrors(executed);
        var elapsed = DateTime.UtcNow - started;
        var html = ReportHtml.Export(repo, executed, outDir, Provenance(name, smoke, started, elapsed, errors.Count));
        log.WriteLine($"[notebook] {name}: {(errors.Count == 0 ? "ok" : $"{errors.Count} failing cell(s)")} " +
                      $"in {elapsed.TotalSeconds:F0} s -> {executed}, {html}");
        return new NotebookResult(notebook, executed, html, errors, elapsed);
    }

    /// <summary>
    /// Removes the .NET kernel's first-cell bootstrap output: a script that probes the kernel's HTTP port on every
    /// interface address and loads require.js from a CDN. It only serves a live front end; in a static report it
    /// would make the browser reach for those addresses. Also drops the compiler's harmless CS1701 notes from stderr, and
    /// all but the last live training view of a cell (the earlier ones are stale first states).
    /// </summary>
    public static void CleanForReport(string executedNotebook)
    {
        var nb = JsonNode.Parse(File.ReadAllText(executedNotebook))!;
        bool changed = false;
        foreach (var cell in nb["cells"]!.AsArray())
        {
            if (cell!["outputs"] is not JsonArray outputs) continue;
            // A live training view is displayed once and then updated in place; nbconvert keeps the first state it
            // saw, and the cell ends by displaying the final state. Keep only the last view of each cell.
            var live = Enumerable.Range(0, outputs.Count)
                                 .Where(k => JoinText(outputs[k]!["data"]?["text/html"]).Contains("class=\"convmae-live\"", StringComparison.Ordinal))
                                 .ToList();
            foreach (var k in live.Take(live.Count - 1).Reverse())
            {
                outputs.RemoveAt(k);
                changed = true;
            }
            for (int k = outputs.Count - 1; k >= 0; k--)
            {
                if (JoinText(outputs[k]!["data"]?["text/html"]).Contains("probeAddresses(", StringComparison.Ordinal))
                {
                    outputs.RemoveAt(k);
                    changed = true;
                }
                else if ((string?)outputs[k]!["output_type"] == "stream" && (string?)outputs[k]!["name"] == "stderr")
                {
                    // CS1701 ("Assuming assembly reference System.Runtime.Numerics 8.0 ... matches 10.0"): the script
                    // compiler's note that TorchSharp was built against .NET 8. Harmless, on every cell that touches
                    // TorchSharp types, and it cannot be silenced from a cell; a report reader would take it for an error.
                    var text = JoinText(outputs[k]!["text"]);
                    var kept = string.Concat(text.Split('\n').Where(l => !l.Contains("warning CS1701:", StringComparison.Ordinal))
                                                 .Select((l, i) => (i == 0 ? "" : "\n") + l));
                    if (kept == text) continue;
                    if (kept.Trim().Length == 0) outputs.RemoveAt(k);
                    else outputs[k]!["text"] = kept;
                    changed = true;
                }
            }
        }
        if (changed) File.WriteAllText(executedNotebook, nb.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>What a reader of a shared report needs to reproduce it.</summary>
    string Provenance(string name, bool smoke, DateTime started, TimeSpan elapsed, int errors)
    {
        var commit = Proc.Run("git", ["rev-parse", "--short", "HEAD"], workDir: repo.Root);
        var dirty = Proc.Run("git", ["status", "--porcelain", "--untracked-files=no"], workDir: repo.Root);
        string version = commit.ExitCode == 0
            ? commit.Stdout.Trim() + (dirty.ExitCode == 0 && dirty.Stdout.Trim().Length > 0 ? " (with uncommitted changes)" : "")
            : "unknown (not a git checkout)";
        return $"{name}: executed {started:yyyy-MM-dd HH:mm} UTC in {elapsed.TotalSeconds:F0} s, {(smoke ? "smoke" : "normal")} mode " +
               $"(CONVMAE_SMOKE={(smoke ? 1 : 0)}), {(errors == 0 ? "no failing cells" : $"{errors} failing cell(s)")}; " +
               $"ConvMAE.Notebooks {version}; {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, " +
               $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, dotnet-interactive {Versions.DotnetInteractive}. " +
               "Seeds and settings are in the notebook's cells; library versions in its first output.";
    }

    /// <summary>Error outputs of an executed notebook, in cell order.</summary>
    public static List<CellError> ReadErrors(string executedNotebook)
    {
        var nb = JsonNode.Parse(File.ReadAllText(executedNotebook))!;
        var errors = new List<CellError>();
        var cells = nb["cells"]!.AsArray();
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i]!;
            if ((string?)cell["cell_type"] != "code") continue;
            var outputs = cell["outputs"]?.AsArray() ?? [];
            // The .NET kernel writes compiler diagnostics to the cell's stderr stream and only
            // "compilation error" into the error output: report both.
            var stderr = string.Concat(outputs.Where(o => (string?)o!["output_type"] == "stream" && (string?)o["name"] == "stderr")
                                              .Select(o => JoinText(o!["text"])));
            foreach (var output in outputs.Where(o => (string?)o!["output_type"] == "error"))
                errors.Add(new CellError(i, JoinText(cell["source"]), (string?)output!["ename"] ?? "",
                                         (string?)output["evalue"] ?? "", (stderr + JoinText(output["traceback"])).Trim()));
        }
        return errors;
    }

    static string JoinText(JsonNode? node) => node switch
    {
        null => "",
        JsonArray a => string.Concat(a.Select(x => (string?)x)),
        _ => (string?)node ?? "",
    };
}
