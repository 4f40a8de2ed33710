using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace ConvMAE.Interactive;

/// <summary>
/// Draws Plotly.NET charts with <c>window.Plotly</c>. The HTML reports inline plotly.js once in their head, so
/// charts render with no network. In a live Jupyter notebook page with no Plotly yet, plotly.js is loaded from the
/// notebook server itself (set-up installs it as the nbextension file <see cref="LocalPath"/>), and only where that
/// fails (another front end) from its CDN. The classic notebook page has require.js, and plotly.js's UMD bundle then
/// registers as an AMD module instead of setting <c>window.Plotly</c>, so it is loaded through <c>require</c> there.
/// This replaces Plotly.NET.Interactive's formatter, which always loads plotly.js and require.js from CDNs.
/// </summary>
public static class ChartFormatter
{
    public const string PlotlyVersion = "2.35.2";
    public const string CdnUrl = "https://cdn.plot.ly/plotly-" + PlotlyVersion + ".min.js";

    /// <summary>Where the notebook server serves plotly.js, relative to its base URL (environment set-up installs it).</summary>
    public const string LocalPath = "nbextensions/convmae/plotly-" + PlotlyVersion + ".min.js";

    public static void Register() =>
        Formatter.Register<GenericChart>((chart, w) => w.Write(Html(chart)), HtmlFormatter.MimeType);

    public static string Html(GenericChart chart)
    {
        // toChartHTML ends with "renderPlotly_<id>();", which assumes Plotly is loaded: defer it until it is.
        var html = GenericChart.toChartHTML(chart);
        int call = html.LastIndexOf("renderPlotly_", StringComparison.Ordinal);
        int end = call < 0 ? -1 : html.IndexOf("();", call, StringComparison.Ordinal);
        if (end < 0) return html;
        var fn = html[call..end];
        return html[..call] + Deferred(fn) + html[(end + 3)..];
    }

    /// <summary>Calls <paramref name="fn"/> once Plotly is there: at once, else after loading plotly.js from the
    /// notebook server (data-base-url is the classic notebook page's base URL), else from the CDN.</summary>
    static string Deferred(string fn) =>
        "(function(){var run=function(){" + fn + "();};if(window.Plotly){run();return;}" +
        "var b=document.body&&document.body.getAttribute('data-base-url');" +
        "var urls=(b?[b+'" + LocalPath + "']:[]).concat(['" + CdnUrl + "']);" +
        "var load=function(i){if(window.Plotly){run();return;}if(i>=urls.length)return;" +
        "if(typeof window.require==='function'&&window.define&&window.define.amd){" +
        "window.require([urls[i]],function(P){window.Plotly=window.Plotly||P;run();},function(){load(i+1);});}" +
        "else{var s=document.createElement('script');s.src=urls[i];s.onload=run;s.onerror=function(){load(i+1);};" +
        "document.head.appendChild(s);}};load(0);})();";
}
