using ConvMAE.Recipes;
using Plotly.NET;
using Plotly.NET.CSharp;
using CSharpChart = Plotly.NET.CSharp.Chart;

namespace ConvMAE.Interactive;

/// <summary>Figures of an ablation sweep (<see cref="Ablations"/>).</summary>
public static class AblationCharts
{
    /// <summary>
    /// Linear-probe top-1 per arm, one group of bars per arm: this sweep, and the earlier sweeps given (oldest first),
    /// so a change shows as bars of different heights side by side.
    /// </summary>
    public static GenericChart ProbeAccuracy(IReadOnlyList<AblationResult> current, IEnumerable<IReadOnlyList<AblationResult>>? earlier = null,
                                             string title = "linear probe top-1 per arm")
    {
        var arms = current.Select(r => r.Variant).ToArray();
        var sweeps = (earlier ?? []).Append(current).ToList();
        var bars = sweeps.Select(s =>
        {
            var byArm = s.GroupBy(r => r.Variant).ToDictionary(g => g.Key, g => g.Last().ProbeAcc1);
            // Arms the sweep lacks are left out, not drawn as zero.
            var present = arms.Where(byArm.ContainsKey).ToArray();
            return CSharpChart.Column<double, string, string>(present.Select(a => byArm[a]).ToArray(), Keys: present,
                                                              Name: "sweep " + s[0].Sweep);
        });
        var chart = CSharpChart.Combine(bars).WithYAxisStyle<double, double, string>(TitleText: "top-1 on val (%)")
                               .WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultHeight);
        return Charts.WithTitle(chart, title);
    }

    /// <summary>Pretraining loss per epoch of each arm of a sweep (read from each arm's metrics.jsonl).</summary>
    public static GenericChart PretrainLoss(string sweepDir, string title = "pretraining loss per arm (not comparable across targets or mask ratios)")
    {
        var arms = Directory.GetDirectories(sweepDir).Where(d => File.Exists(Path.Combine(d, "pretrain", ConvMAE.Training.MetricsLog.FileName)))
                            .OrderBy(d => d, StringComparer.Ordinal).ToList();
        var lines = arms.Select(d =>
        {
            var epochs = ConvMAE.Training.MetricsLog.Read(Path.Combine(d, "pretrain", ConvMAE.Training.MetricsLog.FileName))
                                .Where(r => r["kind"].GetString() == "epoch").ToList();
            return CSharpChart.Line<int, double, string>(epochs.Select(e => e["epoch"].GetInt32() + 1).ToArray(),
                                                         epochs.Select(e => e["train_loss"].GetDouble()).ToArray(),
                                                         ShowMarkers: true, Name: Path.GetFileName(d));
        });
        var chart = CSharpChart.Combine(lines).WithXAxisStyle<double, double, string>(TitleText: "epoch")
                               .WithYAxisStyle<double, double, string>(TitleText: "loss on masked blocks")
                               .WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultHeight);
        return Charts.WithTitle(chart, title);
    }
}
