using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ConvMAE.Env;
using Xunit;

namespace ConvMAE.Tests.Foundation;

/// <summary>Notebooks run the way users run them: Jupyter with this clone's .NET kernel (after environment/setup.sh).</summary>
[Trait("Category", "Notebook")]
public class NotebookTests
{
    static readonly Repo Repo = new(TestPaths.RepoRoot);

    /// <summary>Runs the notebook runner as its command line does, so exit codes and messages are what users see.</summary>
    static Proc.Result RunCli(params string[] args) =>
        Proc.Run(Path.Combine(TestPaths.RepoRoot, "artifacts", "bin", "ConvMAE.Environment", "release", "convmae-env"), args,
                 workDir: TestPaths.RepoRoot, env: new Dictionary<string, string> { ["CONVMAE_SMOKE"] = "1" },
                 timeout: TimeSpan.FromMinutes(20));

    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var nb in Directory.GetFiles(Repo.Notebooks, "*.ipynb").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(nb));
        return data;
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Notebook_executes_without_error_in_smoke_mode(string notebook)
    {
        var r = RunCli("run-notebooks", "--smoke", Path.Combine(Repo.Notebooks, notebook));
        Assert.True(r.ExitCode == 0, $"{notebook} failed:\n{r.Combined}");
        var name = Path.GetFileNameWithoutExtension(notebook);
        Assert.True(File.Exists(Path.Combine(Repo.Reports, name + ".ipynb")));
        Assert.True(File.Exists(Path.Combine(Repo.Reports, name + ".html")));
    }

    [Fact]
    public void Environment_check_report_renders_its_chart_and_image_offline()
    {
        var r = RunCli("run-notebooks", "--smoke", Path.Combine(Repo.Notebooks, "00-environment-check.ipynb"));
        Assert.True(r.ExitCode == 0, r.Combined);
        var html = Path.Combine(Repo.Reports, "00-environment-check.html");
        var text = File.ReadAllText(html);
        Assert.DoesNotContain("cdn.plot.ly/plotly", text.Replace(ChartFormatterCdnFallback, ""));
        Assert.DoesNotContain("probeAddresses(", text);
        Assert.Matches(@"class=""convmae-provenance""[^>]*>00-environment-check: executed \d{4}-\d\d-\d\d \d\d:\d\d UTC in \d+ s, smoke mode", text);

        // The kernel loaded TorchSharp from the NuGet cache, and Kit.Load() pinned the package's libtorch there (it
        // throws, failing the cell, if any other libtorch is mapped): the runtime table names the folder.
        var libtorch = Regex.Match(text, @">libtorch from</th><td[^>]*>([^<]*)</td>");
        Assert.True(libtorch.Success, "the runtime table has no 'libtorch from' row");
        Assert.StartsWith(Path.Combine(ConvMAE.Env.LibtorchFiles.RealPath(Repo.NuGetPackages()), "libtorch-cpu-linux-x64") + "/",
                          System.Net.WebUtility.HtmlDecode(libtorch.Groups[1].Value) + "/");

        var found = ReportCheck.Inspect(html);
        Assert.True(found.PlotlySvgs >= 1, "no svg.main-svg: the Plotly chart did not render");
        Assert.True(found.RenderedKitImages >= 2, $"expected the colour and grey images rendered, found {found.RenderedKitImages}");
    }

    [Fact]
    public void Pretrain_report_renders_its_loss_chart_and_reconstruction_grid_offline()
    {
        var r = RunCli("run-notebooks", "--smoke", Path.Combine(Repo.Notebooks, "02-pretrain.ipynb"));
        Assert.True(r.ExitCode == 0, r.Combined);
        var found = ReportCheck.Inspect(Path.Combine(Repo.Reports, "02-pretrain.html"));
        // Live view's curve + the loss and lr charts; each Plotly chart draws at least one svg.main-svg.
        Assert.True(found.PlotlySvgs >= 3, $"expected the loss and lr charts rendered, found {found.PlotlySvgs} svg.main-svg");
        var grids = System.Text.RegularExpressions.Regex.Matches(found.Dom, "class=\"convmae-recon-grid\"").Count;
        Assert.True(grids >= 2, $"expected a reconstruction grid per checkpoint (2 in smoke mode), found {grids}");
        // 6 validation images × 4 columns per grid, all decoded by the browser.
        Assert.True(found.RenderedKitImages >= 2 * 24, $"reconstruction images not rendered: {found.RenderedKitImages}");
    }

    /// <summary>The live-notebook fallback URL the kit's chart formatter names (used only when Plotly is absent).</summary>
    const string ChartFormatterCdnFallback = "https://cdn.plot.ly/plotly-2.35.2.min.js";

    [Fact]
    public void A_failing_cell_makes_the_runner_exit_nonzero_with_that_cells_error()
    {
        using var dir = TestPaths.Temp();
        var nb = dir.File("failing.ipynb");
        File.WriteAllText(nb, NotebookJson(
            "var answer = 6 * 7;\nanswer",
            "throw new InvalidOperationException(\"deliberate failure in cell two\");",
            "var notReached = 1;"));
        var r = RunCli("run-notebooks", "--out", dir.Path, nb);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("cell 1 failed", r.Stderr);
        Assert.Contains("deliberate failure in cell two", r.Stderr);
        Assert.Contains("InvalidOperationException", r.Stderr);
        Assert.True(File.Exists(dir.File("failing.ipynb")), "the executed notebook is kept for reading");
    }

    [Fact]
    public void A_compile_error_is_reported_with_the_compilers_message()
    {
        using var dir = TestPaths.Temp();
        var nb = dir.File("broken.ipynb");
        File.WriteAllText(nb, NotebookJson("int x = \"not a number\";"));
        var r = RunCli("run-notebooks", "--out", dir.Path, nb);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("cell 0 failed", r.Stderr);
        Assert.Contains("CS0029", r.Stderr);   // cannot implicitly convert type 'string' to 'int'
    }

    [Fact]
    public void Notebooks_load_the_package_versions_the_solution_builds_against()
    {
        var props = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "Directory.Packages.props"));
        var versions = props.Descendants("PackageVersion")
                            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!, StringComparer.OrdinalIgnoreCase);
        int checkedRefs = 0;
        foreach (var file in Directory.GetFiles(Repo.Notebooks, "*.ipynb"))
            foreach (Match m in Regex.Matches(File.ReadAllText(file), @"#r \\""nuget: ([\w.\-]+), ([\w.\-]+)\\"""))
            {
                Assert.True(versions.TryGetValue(m.Groups[1].Value, out var v), $"{Path.GetFileName(file)} loads {m.Groups[1].Value}, which Directory.Packages.props does not pin");
                Assert.True(v == m.Groups[2].Value, $"{Path.GetFileName(file)} loads {m.Groups[1].Value} {m.Groups[2].Value}, the solution uses {v}");
                checkedRefs++;
            }
        Assert.True(checkedRefs > 0);
    }

    static string NotebookJson(params string[] cells) =>
        new JsonObject
        {
            ["cells"] = new JsonArray(cells.Select(c => (JsonNode)new JsonObject
            {
                ["cell_type"] = "code", ["execution_count"] = null, ["metadata"] = new JsonObject(),
                ["outputs"] = new JsonArray(), ["source"] = c,
            }).ToArray()),
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["name"] = ".net-csharp", ["display_name"] = ".NET (C#)", ["language"] = "C#" },
            },
            ["nbformat"] = 4, ["nbformat_minor"] = 5,
        }.ToJsonString();
}
