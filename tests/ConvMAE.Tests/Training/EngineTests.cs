using System.Diagnostics;
using System.Text;
using ConvMAE.Interop;
using ConvMAE.Training;
using Xunit;

namespace ConvMAE.Tests.Training;

/// <summary>
/// The shared loop on a task that is not an image classifier: a toy regression with two named losses
/// (tests/ConvMAE.TestHost), a poly schedule with warmup, an evaluation every 8 and a checkpoint every 4 iterations
/// (8 iterations per epoch, so most checkpoints are mid-epoch), run as a child process that is killed with SIGKILL.
/// </summary>
[Trait("Category", "Integration")]
public class EngineTests
{
    static readonly string Host = Path.Combine(AppContext.BaseDirectory, "ConvMAE.TestHost.dll");

    static Process Start(string output, params string[] extra)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Host, "toy-train", "--output_dir", output, "--max_iter", "40", "--checkpoint_period", "4" }.Concat(extra))
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static void RunToEnd(string output, params string[] extra)
    {
        using var p = Start(output, extra);
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "toy run did not finish");
        Assert.Equal(0, p.ExitCode);
    }

    static List<Dictionary<string, System.Text.Json.JsonElement>> Records(string dir, string kind) =>
        MetricsLog.Read(Path.Combine(dir, MetricsLog.FileName)).Where(r => r["kind"].GetString() == kind).ToList();

    [Fact]
    public void Two_named_losses_under_a_poly_schedule_resume_mid_epoch_after_SIGKILL_to_the_same_weights()
    {
        using var dir = TestPaths.Temp();
        var whole = dir.File("whole");
        RunToEnd(whole);

        var killed = dir.File("killed");
        var metrics = Path.Combine(killed, MetricsLog.FileName);
        using (var p = Start(killed, "--step_delay_ms", "100"))
        {
            // Kill once step 13 is logged: the last checkpoint is then iteration 12, half-way through epoch 1.
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!p.HasExited && DateTime.UtcNow < deadline)
            {
                if (File.Exists(metrics) && File.ReadLines(metrics).Any(l => l.Contains("\"kind\":\"train\",\"step\":13,")))
                    break;
                Thread.Sleep(5);
            }
            Assert.False(p.HasExited, "the toy run ended before it could be killed");
            p.Kill();                                   // SIGKILL on Linux: no chance to clean up
            p.WaitForExit();
        }
        var checkpoint = Path.Combine(killed, TrainingCheckpoint.FileName);
        long saved;
        using (var partial = Checkpoints.Read(checkpoint))
        {
            saved = Convert.ToInt64(TrainingCheckpoint.Meta(partial)["iteration"]);
            Assert.Equal(0, saved % 4);
            Assert.NotEqual(0, saved % 8);              // mid-epoch: the case epoch-boundary checkpoints could not resume
            Assert.Equal(saved / 8 - 1, partial.Epoch); // official meaning: the last completed epoch
        }
        Assert.Empty(Directory.GetFiles(killed, "*.tmp*"));

        RunToEnd(killed, "--resume", checkpoint);

        using var a = Checkpoints.Read(Path.Combine(whole, TrainingCheckpoint.FileName));
        using var b = Checkpoints.Read(checkpoint);
        Assert.Equal(40L, Convert.ToInt64(TrainingCheckpoint.Meta(b)["iteration"]));
        Assert.Equal(a.StateDict.Keys, b.StateDict.Keys);
        foreach (var key in a.StateDict.Keys)
        {
            double diff = (a.StateDict[key] - b.StateDict[key]).abs().max().item<float>();
            Assert.True(diff == 0, $"{key} differs by {diff} after resuming from iteration {saved}");
        }

        // Every step once, each with both named losses and their sum; the epoch summaries and evaluations are identical.
        var trainWhole = Records(whole, "train");
        var trainResumed = Records(killed, "train");
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), trainResumed.Select(r => r["step"].GetInt64()));
        foreach (var (x, y) in trainWhole.Zip(trainResumed))
        {
            foreach (var name in new[] { "loss_main", "loss_aux", "loss", "lr" })
                Assert.Equal(x[name].GetDouble(), y[name].GetDouble());
            Assert.Equal(x["loss_main"].GetDouble() + x["loss_aux"].GetDouble(), x["loss"].GetDouble(), 5);
        }
        foreach (var kind in new[] { "epoch", "eval" })
        {
            var ew = Records(whole, kind).Select(r => (r["step"].GetInt64(), r["mse"].GetDouble())).ToList();
            Assert.Equal(5, ew.Count);
            Assert.Equal(ew, Records(killed, kind).Select(r => (r["step"].GetInt64(), r["mse"].GetDouble())));
        }
        Assert.Equal(Records(whole, "epoch").Select(r => r["train_loss"].GetDouble()), Records(killed, "epoch").Select(r => r["train_loss"].GetDouble()));

        // TensorBoard has a curve per named loss.
        foreach (var run in new[] { whole, killed })
        {
            var events = Directory.GetFiles(run, "events.out.tfevents.*");
            Assert.NotEmpty(events);
            var text = string.Concat(events.Select(e => Encoding.ASCII.GetString(File.ReadAllBytes(e))));
            foreach (var tag in new[] { "train/loss_main", "train/loss_aux", "train/loss", "train/lr", "eval/mse" })
                Assert.Contains(tag, text);
        }
    }

    [Fact]
    public void The_warmup_and_poly_decay_reach_the_optimizer_at_each_iteration()
    {
        using var dir = TestPaths.Temp();
        RunToEnd(dir.Path);
        // lr logged at step s was set for iteration s − 1: mmcv's poly over 40 iterations with 5 warmup from 1e-6.
        foreach (var r in Records(dir.Path, "train"))
        {
            long it = r["step"].GetInt64() - 1;
            double regular = 0.01 * (1 - it / 40.0);
            double expected = it < 5 ? regular * (1 - (1 - it / 5.0) * (1 - 1e-6)) : regular;
            Assert.Equal(expected, r["lr"].GetDouble(), 12);
        }
    }

    /// <summary>A bad sample in a batch of one leaves that batch empty: the iteration passes without a step (the epoch
    /// keeps its batch count, the run its length) and the warning names the sample. A batch of several with not one
    /// readable sample (the data gone mid-run) stops the run with that said, not on an empty tensor.</summary>
    [Fact]
    public void An_empty_batch_is_passed_over_and_a_batch_with_no_readable_sample_stops_the_run_saying_so()
    {
        using var dir = TestPaths.Temp();
        var one = dir.File("batch-of-one");
        var r = ConvMAE.Env.Proc.Run("dotnet", [Host, "toy-train", "--output_dir", one, "--max_iter", "70", "--checkpoint_period", "35",
                                                "--batch_size", "1", "--bad_samples", "5"], timeout: TimeSpan.FromMinutes(3));
        Assert.True(r.ExitCode == 0, r.Combined);
        Assert.Contains("toy sample 5: unreadable", r.Stdout);
        Assert.Contains("finished at iteration 70", r.Stdout);
        // 64 batches per epoch: sample 5 comes once in the first 64 iterations and maybe again in the next 6.
        var steps = Records(one, "train").Select(x => x["step"].GetInt64()).ToList();
        Assert.Equal(63, steps.Count(step => step <= 64));                   // exactly one step missing from epoch 0
        Assert.InRange(steps.Count, 68, 69);
        Assert.Equal(steps.Order().Distinct(), steps);
        Assert.Single(Records(one, "epoch"), x => x["step"].GetInt64() == 64);

        var gone = ConvMAE.Env.Proc.Run("dotnet", [Host, "toy-train", "--output_dir", dir.File("gone"), "--max_iter", "8",
                                                   "--bad_samples", "all"], timeout: TimeSpan.FromMinutes(3));
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("none of the 8 samples of batch 0 of epoch 0 could be read from toy regression data (64 samples)", gone.Combined);
        Assert.Contains("the first: toy sample", gone.Combined);
    }
}
