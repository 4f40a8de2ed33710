using System.Text.RegularExpressions;
using ConvMAE.Env;
using Microsoft.Playwright;
using Xunit;

namespace ConvMAE.Tests.Foundation;

/// <summary>
/// The notebooks as a teacher opens them: the README's `jupyter notebook notebooks/`, a real browser (Debian's
/// Chromium driven by Playwright), cells run through the page's own Cell menu against the live .NET kernel. Every
/// request the page makes to anything but 127.0.0.1 is blocked and fails the test (plotly.js comes from the notebook
/// server, not a CDN). The notebook files are never saved (autosave is turned off and their bytes are compared).
/// </summary>
[Trait("Category", "Notebook")]
public class LiveNotebookTests
{
    static readonly Repo Repo = new(TestPaths.RepoRoot);

    /// <summary>A browser page on the server that records every request, socket and script error.</summary>
    sealed class LivePage : IAsyncDisposable
    {
        public readonly List<string> Blocked = [], Sockets = [], Errors = [], Console = [];
        IPlaywright playwright = null!;
        IBrowser browser = null!;
        public IPage Page = null!;

        public static async Task<LivePage> OpenAsync()
        {
            var p = new LivePage();
            p.playwright = await Playwright.CreateAsync();
            p.browser = await p.playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = "/usr/bin/chromium", Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync"],
            });
            var context = await p.browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1000 } });
            await context.RouteAsync("**/*", async route =>
            {
                var url = new Uri(route.Request.Url);
                if (url.Host == "127.0.0.1") { await route.ContinueAsync(); return; }
                lock (p.Blocked) p.Blocked.Add(route.Request.Url);
                await route.AbortAsync();
            });
            p.Page = await context.NewPageAsync();
            p.Page.WebSocket += (_, ws) => { lock (p.Sockets) p.Sockets.Add(ws.Url); };
            p.Page.PageError += (_, e) => { lock (p.Errors) p.Errors.Add(e); };
            p.Page.Console += (_, m) => { lock (p.Console) p.Console.Add($"{m.Type}: {m.Text}"); };
            return p;
        }

        public string Diagnostics() =>
            $"blocked: {string.Join(", ", Blocked)}\nsockets: {string.Join(", ", Sockets)}\npage errors: {string.Join(" | ", Errors)}\n" +
            $"console (last 20):\n{string.Join("\n", Console.TakeLast(20))}";

        public async ValueTask DisposeAsync()
        {
            await browser.CloseAsync();
            playwright.Dispose();
        }
    }

    /// <summary>Opens a notebook, turns autosave off, runs every cell from the Cell menu and waits for the kernel.</summary>
    static async Task RunAllCellsAsync(LivePage live, JupyterServer server, string notebook, TimeSpan timeout, string? beforeRun = null)
    {
        var page = live.Page;
        await page.GotoAsync($"{server.BaseUrl}notebooks/{notebook}?token={server.Token}");
        await page.WaitForFunctionAsync("() => window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded && " +
                                        "Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()",
                                        null, new PageWaitForFunctionOptions { Timeout = 120_000 });
        await page.EvaluateAsync("() => Jupyter.notebook.set_autosave_interval(0)");
        Assert.True(await page.EvaluateAsync<bool>("() => Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code')" +
                                                   ".every(c => c.input_prompt_number == null)"), "cells already show execution counts");
        if (beforeRun is not null) await page.EvaluateAsync(beforeRun);
        await page.ClickAsync("#celllink");
        await page.ClickAsync("#run_all_cells > a");
        await page.WaitForFunctionAsync(
            "() => Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code').every(c => typeof c.input_prompt_number === 'number')" +
            " && document.querySelector('#kernel_indicator_icon').classList.contains('kernel_idle_icon')",
            null, new PageWaitForFunctionOptions { Timeout = (float)timeout.TotalMilliseconds, PollingInterval = 500 });
    }

    /// <summary>The notebook page scrolls inside #site, so a full-page shot shows one screen: grow the viewport to the
    /// notebook's height first. Written under reports/ (git-ignored) for a person to look at.</summary>
    static async Task ScreenshotWholeNotebookAsync(IPage page, string name)
    {
        var height = await page.EvaluateAsync<int>("() => document.getElementById('notebook').scrollHeight + 120");
        await page.SetViewportSizeAsync(1280, Math.Clamp(height, 1000, 30_000));
        Directory.CreateDirectory(Repo.Reports);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Repo.Reports, name) });
    }

    static async Task AssertNoErrorOutputAsync(LivePage live)
    {
        var errors = await live.Page.EvalOnSelectorAllAsync<string[]>(".output_error", "els => els.map(e => e.innerText)");
        Assert.True(errors.Length == 0, $"error output in the page:\n{string.Join("\n---\n", errors)}\n{live.Diagnostics()}");
    }

    static void AssertStayedLocal(LivePage live, JupyterServer server)
    {
        Assert.True(live.Blocked.Count == 0, $"the page reached beyond 127.0.0.1:\n{live.Diagnostics()}");
        Assert.All(live.Sockets, s => Assert.StartsWith($"ws://127.0.0.1:{server.Port}/", s));
    }

    [Fact]
    public async Task The_environment_check_runs_cell_by_cell_in_a_browser_against_the_live_kernel()
    {
        var notebookFile = Path.Combine(Repo.Notebooks, "00-environment-check.ipynb");
        var before = File.ReadAllBytes(notebookFile);
        using var server = new JupyterServer("notebooks/", new Dictionary<string, string> { ["CONVMAE_SMOKE"] = "1" });
        await using (var live = await LivePage.OpenAsync())
        {
            // The tree page lists the walkthroughs, as `jupyter notebook notebooks/` shows them to a user.
            await live.Page.GotoAsync($"{server.BaseUrl}tree?token={server.Token}");
            await live.Page.WaitForSelectorAsync("#notebook_list a.item_link[href$='.ipynb']");
            var listed = await live.Page.EvalOnSelectorAllAsync<string[]>("#notebook_list a.item_link", "els => els.map(e => e.innerText.trim())");
            foreach (var nb in Directory.GetFiles(Repo.Notebooks, "*.ipynb").Select(Path.GetFileName))
                Assert.Contains(nb, listed);

            await RunAllCellsAsync(live, server, "00-environment-check.ipynb", TimeSpan.FromMinutes(5));
            await AssertNoErrorOutputAsync(live);
            // The Plotly chart rendered with plotly.js from the notebook server.
            await live.Page.WaitForSelectorAsync("svg.main-svg", new PageWaitForSelectorOptions { Timeout = 30_000 });
            // The kit's image formatter's images were decoded by the browser (colour pattern and luminance).
            var decoded = await live.Page.EvalOnSelectorAllAsync<int>("img.convmae-image", "els => els.filter(i => i.complete && i.naturalWidth > 0).length");
            Assert.True(decoded >= 2, $"expected the two kit images decoded, found {decoded}\n{live.Diagnostics()}");
            // The versions table of Kit.Load(), naming where libtorch came from.
            var table = await live.Page.InnerTextAsync("table.convmae-runtime");
            Assert.Contains("TorchSharp", table);
            Assert.Contains("libtorch from", table);
            await ScreenshotWholeNotebookAsync(live.Page, "live-00-environment-check.png");
            AssertStayedLocal(live, server);
        }
        var left = server.Stop();
        Assert.True(left.Count == 0, $"processes left behind by the server: {string.Join(", ", left)}");
        Assert.True(File.ReadAllBytes(notebookFile).SequenceEqual(before), "the notebook file was changed by the browser session");
    }

    [Fact]
    public async Task The_live_training_display_updates_in_place_while_pretraining_runs()
    {
        var notebookFile = Path.Combine(Repo.Notebooks, "02-pretrain.ipynb");
        var before = File.ReadAllBytes(notebookFile);
        using var server = new JupyterServer("notebooks/", new Dictionary<string, string> { ["CONVMAE_SMOKE"] = "1" });
        await using (var live = await LivePage.OpenAsync())
        {
            // Records each state of the cell's first live view: its text, whether the cell was still running, and how
            // many views the cell showed then.
            const string observe = """
                () => {
                  window.__live = [];
                  const record = () => document.querySelectorAll('.cell').forEach(cell => {
                    const views = cell.querySelectorAll('.convmae-live');
                    if (views.length === 0) return;
                    const text = views[0].innerText;
                    const running = cell.classList.contains('running');
                    if (!window.__live.some(s => s.Text === text)) window.__live.push({ Text: text, Views: views.length, Running: running, At: Date.now() });
                  });
                  new MutationObserver(record).observe(document.getElementById('notebook-container'),
                                                       { subtree: true, childList: true, characterData: true });
                }
                """;
            await RunAllCellsAsync(live, server, "02-pretrain.ipynb", TimeSpan.FromMinutes(8), observe);
            await AssertNoErrorOutputAsync(live);
            var states = await live.Page.EvaluateAsync<LiveState[]>("() => window.__live");
            var training = states.Where(s => s.Running && Regex.IsMatch(s.Text, @"pretrain epoch \d+/\d+, step \d+/\d+")).ToList();
            Assert.True(training.Count >= 3, $"expected the live view shown and updated at least twice while training, saw {training.Count} state(s):\n" +
                                             string.Join("\n---\n", states.Select(s => $"[{s.At} running={s.Running} views={s.Views}] {s.Text}")));
            Assert.All(states, s => Assert.Equal(1, s.Views));   // updated in place: one view in the running cell, not one per update
            // The final state, shown when the cell returns the view, is the finished run: last epoch, last step.
            var views = await live.Page.EvalOnSelectorAllAsync<string[]>(".convmae-live", "els => els.map(e => e.innerText)");
            var final = Regex.Match(views[^1], @"pretrain epoch (\d+)/(\d+), step (\d+)/(\d+)");
            Assert.True(final.Success && final.Groups[1].Value == final.Groups[2].Value && final.Groups[3].Value == final.Groups[4].Value,
                        $"final view is not the finished run: {views[^1]}");
            Assert.Contains(await live.Page.EvalOnSelectorAllAsync<string[]>(".output_text", "els => els.map(e => e.innerText)"),
                            t => t.Contains("finished in"));
            await live.Page.WaitForSelectorAsync("svg.main-svg", new PageWaitForSelectorOptions { Timeout = 30_000 });
            await ScreenshotWholeNotebookAsync(live.Page, "live-02-pretrain.png");
            AssertStayedLocal(live, server);
        }
        var left = server.Stop();
        Assert.True(left.Count == 0, $"processes left behind by the server: {string.Join(", ", left)}");
        Assert.True(File.ReadAllBytes(notebookFile).SequenceEqual(before), "the notebook file was changed by the browser session");
    }

    /// <summary>One recorded state of the live view (Playwright fills it from the page's object).</summary>
    public sealed class LiveState
    {
        public string Text { get; set; } = "";
        public int Views { get; set; }
        public bool Running { get; set; }
        public double At { get; set; }
    }
}
