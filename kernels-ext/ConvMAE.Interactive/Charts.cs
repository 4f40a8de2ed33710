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

/// <summary>Curves read back from a run's metrics.jsonl (the library's one log format).</summary>
public static class RunCharts
{
    /// <summary>Training loss per step (and the lr on a second chart) of a run folder or metrics file.</summary>
    public static GenericChart Loss(string runDirOrMetrics, string title)
    {
        var train = Records(runDirOrMetrics, "train");
        return Charts.Line(train.Select(r => r["step"].GetInt64()), train.Select(r => r["loss"].GetDouble()), "step", "loss", title);
    }

    public static GenericChart LearningRate(string runDirOrMetrics, string title)
    {
        var train = Records(runDirOrMetrics, "train");
        return Charts.Line(train.Select(r => r["step"].GetInt64()), train.Select(r => r["lr"].GetDouble()), "step", "learning rate", title);
    }

    /// <summary>Validation top-1 per epoch of several runs on one chart (e.g. probe of pretrained vs random encoder).</summary>
    public static GenericChart Accuracy(IEnumerable<(string Name, string RunDir)> runs, string title)
    {
        var lines = runs.Select(r =>
        {
            var epochs = Records(r.RunDir, "epoch").Where(e => e.ContainsKey("acc1")).ToList();
            return CSharpChart.Line<int, double, string>(epochs.Select(e => e["epoch"].GetInt32() + 1).ToArray(),
                                                         epochs.Select(e => e["acc1"].GetDouble()).ToArray(), ShowMarkers: true, Name: r.Name);
        });
        var chart = CSharpChart.Combine(lines).WithXAxisStyle<double, double, string>(TitleText: "epoch")
                               .WithYAxisStyle<double, double, string>(TitleText: "top-1 (%)")
                               .WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultHeight);
        return Charts.WithTitle(chart, title);
    }

    static List<Dictionary<string, System.Text.Json.JsonElement>> Records(string runDirOrMetrics, string kind)
    {
        var path = Directory.Exists(runDirOrMetrics) ? Path.Combine(runDirOrMetrics, ConvMAE.Training.MetricsLog.FileName) : runDirOrMetrics;
        return ConvMAE.Training.MetricsLog.Read(path).Where(r => r["kind"].GetString() == kind).ToList();
    }
}

/// <summary>Charts for classifier results and optimiser settings.</summary>
public static class ClassifierCharts
{
    /// <summary>counts[true, predicted] as a heatmap, true classes down, predictions across.</summary>
    public static GenericChart Confusion(long[,] counts, IReadOnlyList<string> classes, string title)
    {
        int k = classes.Count;
        var rows = Enumerable.Range(0, k).Select(t => (IEnumerable<long>)Enumerable.Range(0, k).Select(p => counts[t, p]).ToArray()).ToArray();
        var chart = CSharpChart.Heatmap<long, string, string, string>(rows, X: classes.ToArray(), Y: classes.ToArray())
                               .WithXAxisStyle<double, double, string>(TitleText: "predicted")
                               .WithYAxisStyle<double, double, string>(TitleText: "true")
                               .WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultWidth - 120);
        return Charts.WithTitle(chart, title);
    }

    /// <summary>One bar per parameter group: its learning-rate scale (layer decay) and name.</summary>
    public static GenericChart LrScales(IEnumerable<ConvMAE.Training.ParamGroup> groups, string title)
    {
        var list = groups.ToList();
        var chart = CSharpChart.Column<double, string, string>(list.Select(g => g.LrScale).ToArray(), Keys: list.Select(g => g.Name).ToArray())
                               .WithYAxisStyle<double, double, string>(TitleText: "lr scale (× base lr)")
                               .WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultHeight);
        return Charts.WithTitle(chart, title);
    }
}
