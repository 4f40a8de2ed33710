using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace ConvMAE.Interactive;

/// <summary>
/// Draws Plotly.NET charts with <c>window.Plotly</c>. The HTML reports inline plotly.js once in their head, so
/// charts render with no network; in a live notebook that has no Plotly yet, plotly.js is fetched from its CDN.
/// This replaces Plotly.NET.Interactive's formatter, which always loads plotly.js and require.js from CDNs.
/// </summary>
public static class ChartFormatter
{
    public const string CdnUrl = "https://cdn.plot.ly/plotly-2.35.2.min.js";

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
        var deferred =
            $"(function(){{if(window.Plotly){{{fn}();return;}}var s=document.createElement('script');" +
            $"s.src='{CdnUrl}';s.onload=function(){{{fn}();}};document.head.appendChild(s);}})();";
        return html[..call] + deferred + html[(end + 3)..];
    }
}
