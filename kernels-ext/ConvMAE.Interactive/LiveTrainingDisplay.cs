using System.Diagnostics;
using ConvMAE.Recipes;
using ConvMAE.Training;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;

namespace ConvMAE.Interactive;

/// <summary>
/// A training run's live view in a notebook: step, epoch, loss, lr, images/s and ETA, and a loss curve that grows as
/// the library's training loop runs. Pass <see cref="Observer"/> to any recipe (ImageRecipes.Pretrain, ...). The view is
/// one output that is updated in place (at most every <see cref="Interval"/>), so an exported report keeps the final state.
/// </summary>
public sealed class LiveTrainingDisplay
{
    readonly List<long> steps = [];
    readonly List<double> losses = [];
    readonly List<(int Epoch, IReadOnlyDictionary<string, double> Eval)> epochs = [];
    readonly Stopwatch sinceUpdate = Stopwatch.StartNew();
    readonly LiveOutput view = new();
    StepReport? last;
    string? info;

    public string Title { get; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    public LiveTrainingDisplay(string title) => Title = title;

    // Shown as the final, static state when a cell returns the display (in-place updates of a live output are not
    // kept by every front end, nbconvert's among them, so a report shows this instead).
    static LiveTrainingDisplay() =>
        Formatter.Register<LiveTrainingDisplay>((d, w) => w.Write(d.Html()), HtmlFormatter.MimeType);

    public RunObserver Observer => new()
    {
        Info = text => { info = text; Refresh(force: true); },
        Warning = text => { info = "warning: " + text; Refresh(force: true); },
        Step = r =>
        {
            // A new run (the next stage of a pipeline, the next arm of a sweep) starts its own curve.
            if (last is { } prev && (r.GlobalStep <= prev.GlobalStep || r.Kind != prev.Kind)) { steps.Clear(); losses.Clear(); }
            last = r;
            steps.Add(r.GlobalStep);
            losses.Add(r.Loss);
            Refresh(force: false);
        },
        Epoch = r => { epochs.Add((r.Epoch, r.Eval)); Refresh(force: true); },
    };

    void Refresh(bool force)
    {
        if (!force && sinceUpdate.Elapsed < Interval) return;
        sinceUpdate.Restart();
        view.Show(Html());
    }

    public string Html()
    {
        var sb = new System.Text.StringBuilder($"<div class=\"convmae-live\"><b>{RuntimeTable.Html(Title)}</b><br/>");
        if (last is { } r)
            sb.Append($"{r.Kind} epoch {r.Epoch + 1}/{r.Epochs}, step {r.Step + 1}/{r.StepsPerEpoch}: loss {r.Loss:F4}, " +
                      $"lr {r.Lr:E2}, {r.ImagesPerSecond:F0} img/s, elapsed {r.Elapsed:mm\\:ss}, ETA {r.Remaining:mm\\:ss}<br/>");
        if (epochs.Count > 0 && epochs[^1].Eval.Count > 0)
            sb.Append("last evaluation: " + string.Join(", ", epochs[^1].Eval.Select(kv => $"{kv.Key} {kv.Value:F2}")) + "<br/>");
        if (info is not null) sb.Append($"<span style=\"color:#666\">{RuntimeTable.Html(info)}</span><br/>");
        if (steps.Count > 1)
            sb.Append(ChartFormatter.Html(Charts.Line(steps, losses, "step", "loss", $"{Title}: training loss")));
        return sb.Append("</div>").ToString();
    }
}
