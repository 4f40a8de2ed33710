using Microsoft.DotNet.Interactive.Formatting;

namespace ConvMAE.Interactive;

/// <summary>
/// Entry point called by every notebook's first cell: registers the kit's formatters and returns a table of
/// the runtime (versions, device, threads), which the notebook displays.
/// </summary>
public static class Kit
{
    static bool loaded;

    /// <summary>True when the notebook was started in CI's shrunken mode (CONVMAE_SMOKE=1).</summary>
    public static bool Smoke => System.Environment.GetEnvironmentVariable("CONVMAE_SMOKE") == "1";

    public static RuntimeTable Load()
    {
        if (!loaded)
        {
            NativeTorch.EnsureLoaded();   // before anything touches TorchSharp
            TensorFormatters.Register();
            ChartFormatter.Register();
            loaded = true;
        }
        return new RuntimeTable(Runtime.Describe());
    }
}

/// <summary>Displayed as a two-column table.</summary>
public sealed record RuntimeTable(IReadOnlyList<(string Name, string Value)> Rows)
{
    static RuntimeTable() =>
        Formatter.Register<RuntimeTable>((t, w) =>
        {
            w.Write("<table class=\"convmae-runtime\">");
            foreach (var (n, v) in t.Rows)
                w.Write($"<tr><th style=\"text-align:left\">{Html(n)}</th><td style=\"text-align:left\">{Html(v)}</td></tr>");
            w.Write("</table>");
        }, HtmlFormatter.MimeType);

    internal static string Html(string s) => System.Net.WebUtility.HtmlEncode(s);

    public override string ToString() => string.Join("\n", Rows.Select(r => $"{r.Name}: {r.Value}"));
}
