using System.Text.Json;
using ConvMAE.DataPrep;
using ConvMAE.Env;
using ConvMAE.Training;
using Xunit;

namespace ConvMAE.Tests.Training;

/// <summary>The README's main job, in its two-epoch smoke form, through the command line.</summary>
[Trait("Category", "Integration")]
public class QuickstartTests
{
    [Fact]
    public void Smoke_quickstart_runs_every_stage_and_writes_its_summary()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("data");
        DemoDataset.Generate(data, new DemoDatasetOptions(Seed: 3, TrainPerClass: 30, ValPerClass: 6));
        var output = dir.File("quick");
        var r = Proc.Run(Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli"),
                         ["quickstart", "--smoke", "--data_path", data, "--output_dir", output, "--threads", "2"],
                         timeout: TimeSpan.FromMinutes(10));
        Assert.True(r.ExitCode == 0, r.Combined);
        foreach (var stage in new[] { "pretrain", "linprobe-pretrained", "linprobe-random", "finetune" })
        {
            Assert.True(File.Exists(Path.Combine(output, stage, TrainingCheckpoint.FileName)), $"{stage}: no checkpoint");
            Assert.NotEmpty(MetricsLog.Read(Path.Combine(output, stage, MetricsLog.FileName)));
        }
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json"))).RootElement;
        foreach (var key in new[] { "ProbePretrained", "ProbeRandom", "Finetuned" })
            Assert.InRange(summary.GetProperty(key).GetDouble(), 0, 100);
        Assert.Contains("linear probe, pretrained encoder", r.Stdout);
        Assert.Contains("gain from pretraining", r.Stdout);
    }

    [Fact]
    public void Missing_data_path_is_named()
    {
        using var dir = TestPaths.Temp();
        var r = Proc.Run(Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli"), ["quickstart", "--data_path", dir.File("none")]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(dir.File("none"), r.Combined);
        Assert.Contains("setup.sh", r.Combined);
    }
}
