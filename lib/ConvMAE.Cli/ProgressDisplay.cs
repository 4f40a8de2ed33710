using ConvMAE.Training;

namespace ConvMAE.Cli;

/// <summary>
/// Training progress on the console: a live bar (epoch, step, loss, lr, images/s, ETA) on a terminal, plain lines
/// (about ten per epoch) when output is redirected to a file or a pipe.
/// </summary>
public sealed class ProgressDisplay(TextWriter output, bool interactive)
{
    public static ProgressDisplay ForConsole() => new(Console.Out, !Console.IsOutputRedirected);

    double smoothedIps;

    public void Step(StepReport r)
    {
        smoothedIps = smoothedIps == 0 ? r.ImagesPerSecond : 0.9 * smoothedIps + 0.1 * r.ImagesPerSecond;
        // Tasks with several named losses (detection, segmentation) show each part after the sum.
        var parts = string.Concat(r.Losses.Where(kv => kv.Key != "loss").Select(kv => $" {kv.Key} {kv.Value:F3}"));
        var text = $"{r.Kind} epoch {r.Epoch + 1}/{r.Epochs} step {r.Step + 1}/{r.StepsPerEpoch} loss {r.Loss:F4}{parts} lr {r.Lr:E2} " +
                   $"{smoothedIps:F1} img/s ETA {Format(r.Remaining)}";
        if (interactive)
        {
            int width = 24, filled = (int)Math.Round(width * (r.Step + 1.0) / r.StepsPerEpoch);
            var line = $"[{new string('#', filled)}{new string('-', width - filled)}] {text}";
            int columns = Console.IsOutputRedirected ? 160 : Math.Max(40, Console.WindowWidth - 1);
            output.Write("\r" + (line.Length > columns ? line[..columns] : line.PadRight(columns)));
        }
        else if ((r.Step + 1) % Math.Max(1, r.StepsPerEpoch / 10) == 0 || r.Step + 1 == r.StepsPerEpoch)
            output.WriteLine(text);
    }

    public void Epoch(EpochReport r)
    {
        if (interactive) output.WriteLine();
        var eval = string.Join(" ", r.Eval.Select(kv => $"{kv.Key} {kv.Value:F2}"));
        output.WriteLine($"{r.Kind} epoch {r.Epoch + 1}/{r.Epochs} done in {Format(r.Elapsed)}: train loss {r.TrainLoss:F4}" +
                         (eval.Length > 0 ? $", val {eval}" : "") + (r.Checkpoint is null ? "" : $"; saved {r.Checkpoint}"));
    }

    public void Line(string text)
    {
        if (interactive) output.Write("\r");
        output.WriteLine(text);
    }

    static string Format(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss") : t.ToString(@"mm\:ss");
}
