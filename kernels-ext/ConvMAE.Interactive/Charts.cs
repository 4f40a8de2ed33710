using Plotly.NET;
using Plotly.NET.CSharp;
using CSharpChart = Plotly.NET.CSharp.Chart;

namespace ConvMAE.Interactive;

/// <summary>Chart helpers notebooks share, so each figure is one short call.</summary>
public static class Charts
{
    /// <summary>Size of every kit chart, in pixels: wide enough for a training curve, short enough to read beside code.</summary>
    public const int DefaultWidth = 760, DefaultHeight = 420;

    /// <summary>One or more named series over a shared x axis, with markers.</summary>
    public static GenericChart Lines<TX>(IEnumerable<TX> x, IEnumerable<(string Name, IEnumerable<double> Y)> series,
                                         string xTitle, string yTitle, string title) where TX : IConvertible
    {
        var xs = x.ToArray();
        var chart = CSharpChart.Combine(series.Select(s =>
            CSharpChart.Line<TX, double, string>(xs, s.Y.ToArray(), ShowMarkers: true, Name: s.Name)));
        chart = chart.WithXAxisStyle<double, double, string>(TitleText: xTitle)
                     .WithYAxisStyle<double, double, string>(TitleText: yTitle);
        return WithTitle(chart.WithSize(Width: DefaultWidth, Height: DefaultHeight), title);
    }

    public static GenericChart Line<TX>(IEnumerable<TX> x, IEnumerable<double> y, string xTitle, string yTitle, string title,
                                        string name = "") where TX : IConvertible =>
        Lines(x, [(name, y)], xTitle, yTitle, title);

    /// <summary>Plotly.NET 6 has no C# WithTitle; its F# Chart.withTitle is curried.</summary>
    public static GenericChart WithTitle(GenericChart chart, string title) =>
        Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
}
