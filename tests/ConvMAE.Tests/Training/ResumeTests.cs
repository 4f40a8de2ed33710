using System.Diagnostics;
using ConvMAE.DataPrep;
using ConvMAE.Interop;
using ConvMAE.Training;
using Xunit;

namespace ConvMAE.Tests.Training;

/// <summary>A run killed with SIGKILL mid-epoch and resumed from its last checkpoint ends with the same weights as a run
/// that was never interrupted (same seed, same thread count), through the real command line.</summary>
[Trait("Category", "Integration")]
public class ResumeTests
{
    static string Cli => Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli");

    static string[] Args(string data, string output, params string[] extra) =>
    [
        "pretrain", "--model", "convmae_tiny_cpu", "--input_size", "96", "--data_path", data, "--batch_size", "8", "--epochs", "3",
        "--warmup_epochs", "1", "--blr", "1e-3", "--save_every", "1", "--threads", "2", "--num_workers", "2", "--seed", "7",
        "--output_dir", output, "--log_dir", "", .. extra,
    ];

    static Process Start(string[] args, System.Text.StringBuilder? output = null)
    {
        var psi = new ProcessStartInfo(Cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (args) output?.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (args) output?.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static void RunToEnd(string[] args)
    {
        using var p = Start(args);
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "run did not finish");
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public void Killed_mid_epoch_and_resumed_reaches_the_same_weights()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("data");
        DemoDataset.Generate(data, new DemoDatasetOptions(Seed: 1, TrainPerClass: 16, ValPerClass: 2, Size: 96));   // 160 images: 20 steps/epoch

        var whole = dir.File("whole");
        RunToEnd(Args(data, whole));

        var killed = dir.File("killed");
        var metrics = Path.Combine(killed, MetricsLog.FileName);
        using (var p = Start(Args(data, killed)))
        {
            // Wait until the second epoch (index 1) is under way, i.e. after the epoch-0 checkpoint, then SIGKILL.
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (!p.HasExited && DateTime.UtcNow < deadline)
            {
                if (File.Exists(metrics) && File.ReadLines(metrics).Any(l => l.Contains("\"kind\":\"train\"") && l.Contains("\"epoch\":1")))
                    break;
                Thread.Sleep(5);
            }
            Assert.False(p.HasExited, "the run ended before it could be killed mid-epoch");
            p.Kill();                                   // SIGKILL on Linux: no chance to clean up
            p.WaitForExit();
        }
        using (var partial = Checkpoints.Read(Path.Combine(killed, TrainingCheckpoint.FileName)))
            Assert.Equal(0, partial.Epoch);              // only epoch 0 was complete when it died
        Assert.Empty(Directory.GetFiles(killed, "*.tmp*"));

        RunToEnd(Args(data, killed, "--resume", Path.Combine(killed, TrainingCheckpoint.FileName)));

        using var a = Checkpoints.Read(Path.Combine(whole, TrainingCheckpoint.FileName));
        using var b = Checkpoints.Read(Path.Combine(killed, TrainingCheckpoint.FileName));
        Assert.Equal(2, a.Epoch);
        Assert.Equal(2, b.Epoch);
        Assert.Equal(a.StateDict.Keys, b.StateDict.Keys);
        foreach (var key in a.StateDict.Keys)
        {
            double diff = (a.StateDict[key] - b.StateDict[key]).abs().max().item<float>();
            Assert.True(diff <= 1e-6, $"{key} differs by {diff}");
        }
        // The resumed log has each step once: epochs 0..2 × 20 steps.
        var steps = MetricsLog.Read(metrics).Where(r => r["kind"].GetString() == "train").Select(r => r["step"].GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), steps);
    }

    [Fact]
    public void A_non_finite_loss_stops_the_run_with_its_step_and_keeps_the_last_good_checkpoint()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("data");
        DemoDataset.Generate(data, new DemoDatasetOptions(Seed: 2, TrainPerClass: 8, ValPerClass: 2, Size: 96));
        var output = dir.File("run");
        // A sane first epoch writes a checkpoint; the resumed run's absurd learning rate then blows up.
        RunToEnd(Args(data, output, "--epochs", "1"));
        var checkpoint = Path.Combine(output, TrainingCheckpoint.FileName);
        var before = File.ReadAllBytes(checkpoint);
        var log = new System.Text.StringBuilder();
        using var p = Start(Args(data, output, "--resume", checkpoint, "--lr", "1e12", "--epochs", "4"), log);
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)));
        p.WaitForExit();   // drain the output
        Assert.Equal(1, p.ExitCode);
        var text = log.ToString();
        Assert.Matches(@"loss is (NaN|∞|-∞|Infinity|-Infinity) at epoch \d+ step \d+ \(global step \d+\)", text);
        Assert.Contains("last good checkpoint is kept", text);
        Assert.Equal(before, File.ReadAllBytes(checkpoint));
    }
}
