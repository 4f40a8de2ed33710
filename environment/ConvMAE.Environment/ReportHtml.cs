using System.Text.RegularExpressions;

namespace ConvMAE.Env;

/// <summary>
/// Turns an executed notebook into an HTML report that renders with no network: plotly.js is inlined once
/// in the head (the kit's chart formatter draws with window.Plotly when present), and the template's CDN
/// scripts (require.js, MathJax) are dropped because nothing in a report needs them.
/// </summary>
public static partial class ReportHtml
{
    public static string Export(Repo repo, string executedNotebook, string outDir, string? provenance = null)
    {
        var name = Path.GetFileNameWithoutExtension(executedNotebook);
        var html = Path.Combine(outDir, name + ".html");
        Proc.Check(NotebookRunner.Jupyter(), ["nbconvert", "--to", "html", "--output-dir", outDir,
                                              "--output", name + ".html", executedNotebook]);
        if (!File.Exists(repo.PlotlyJs))
            throw new FileNotFoundException($"{repo.PlotlyJs} is missing: run environment/setup.sh", repo.PlotlyJs);
        var text = MakeSelfContained(File.ReadAllText(html), File.ReadAllText(repo.PlotlyJs));
        if (provenance is not null) text = AddFooter(text, provenance);
        File.WriteAllText(html + ".tmp", text);
        File.Move(html + ".tmp", html, overwrite: true);
        return html;
    }

    [GeneratedRegex(@"<script[^>]*\ssrc=""https?://[^""]*""[^>]*>\s*</script>", RegexOptions.IgnoreCase)]
    private static partial Regex RemoteScript();

    [GeneratedRegex(@"<head[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex HeadTag();

    /// <summary>Marks every image that decoded with data-rendered="1", so a headless browser check can tell a
    /// rendered image from a broken one by reading the DOM.</summary>
    const string ImageProbe =
        "<script>window.addEventListener('load',function(){document.querySelectorAll('img').forEach(function(i){" +
        "if(i.complete&&i.naturalWidth>0)i.setAttribute('data-rendered','1');});});</script>";

    /// <summary>A footer recording how the report was made (mode, time, machine, commit), before &lt;/body&gt;.</summary>
    public static string AddFooter(string html, string provenance)
    {
        var footer = "<footer class=\"convmae-provenance\" style=\"margin:2em 0;color:#555;font-size:small\">" +
                     System.Net.WebUtility.HtmlEncode(provenance) + "</footer>";
        int end = html.LastIndexOf("</body>", StringComparison.OrdinalIgnoreCase);
        return end < 0 ? html + footer : html.Insert(end, footer);
    }

    public static string MakeSelfContained(string html, string plotlyJs)
    {
        html = RemoteScript().Replace(html, "");
        // "</script" inside the library would end the inline block early; escaping the slash is harmless in JS strings.
        var inline = "<script type=\"text/javascript\">" + plotlyJs.Replace("</script", "<\\/script") + "</script>" + ImageProbe;
        var head = HeadTag().Match(html);
        if (!head.Success) throw new InvalidDataException("report HTML has no <head> element");
        return html.Insert(head.Index + head.Length, inline);
    }
}
