using System.Text.RegularExpressions;

namespace ConvMAE.Env;

/// <summary>Opens a report in headless Chromium with networking disabled and reads back the rendered DOM.</summary>
public static class ReportCheck
{
    public sealed record Findings(int PlotlySvgs, int RenderedKitImages, string Dom);

    public static string Chromium() =>
        File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium"
        : Proc.Which("chromium") ?? throw new InvalidOperationException(
            "chromium not found: run environment/setup.sh as root, or: sudo apt-get install chromium");

    public static Findings Inspect(string html)
    {
        html = Path.GetFullPath(html);
        if (!File.Exists(html)) throw new FileNotFoundException($"report not found: {html}", html);
        var profile = Directory.CreateTempSubdirectory("convmae-chromium-");
        try
        {
            // Flags from platform-notes 2b: without the background-networking ones Chromium tries the network.
            var r = Proc.Check(Chromium(), ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                    $"--user-data-dir={profile.FullName}", "--virtual-time-budget=15000", "--dump-dom",
                    new Uri(html).AbsoluteUri], timeout: TimeSpan.FromMinutes(3));
            var dom = r.Stdout;
            return new Findings(
                Regex.Matches(dom, @"<svg[^>]*class=""main-svg""").Count,
                Regex.Matches(dom, @"<img(?=[^>]*class=""convmae-image"")(?=[^>]*data-rendered=""1"")[^>]*>").Count,
                dom);
        }
        finally { profile.Delete(recursive: true); }
    }
}
