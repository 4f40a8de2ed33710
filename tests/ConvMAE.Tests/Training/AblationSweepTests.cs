using ConvMAE.DataPrep;
using ConvMAE.Recipes;
using Xunit;

namespace ConvMAE.Tests.Training;

/// <summary>The ablation sweep notebook 07 runs: arms differ in one switch, results are saved as they finish and compared.</summary>
[Trait("Category", "Integration")]
public class AblationSweepTests
{
    static PretrainArgs Baseline(string data) => new()
    {
        Model = "convmae_tiny_cpu", InputSize = 64, DataPath = data, BatchSize = 16, Epochs = 1, WarmupEpochs = 0,
        Blr = 1.5e-4, MaxSteps = 2, NumWorkers = 0, Seed = 5,
    };

    [Fact]
    public void Standard_arms_each_change_exactly_one_switch_of_the_baseline()
    {
        var baseline = Baseline("d");
        var arms = Ablations.Standard(baseline);
        Assert.Equal("baseline", arms[0].Name);
        Assert.Equal(baseline, arms[0].Args);
        foreach (var arm in arms.Skip(1))
        {
            int changed = (arm.Args.MaskRatio != baseline.MaskRatio ? 1 : 0) + (arm.Args.MaskedConv != baseline.MaskedConv ? 1 : 0)
                        + (arm.Args.MultiScaleFusion != baseline.MultiScaleFusion ? 1 : 0) + (arm.Args.NormPixLoss != baseline.NormPixLoss ? 1 : 0);
            Assert.Equal(1, changed);
            Assert.Equal(baseline, arm.Args with
            {
                MaskRatio = baseline.MaskRatio, MaskedConv = baseline.MaskedConv,
                MultiScaleFusion = baseline.MultiScaleFusion, NormPixLoss = baseline.NormPixLoss,
            });
        }
        Assert.Equal(arms.Count, arms.Select(a => a.Name).Distinct().Count());
    }

    [Fact]
    public void A_sweep_saves_each_arm_and_a_second_sweep_is_compared_with_the_first()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("data");
        DemoDataset.Generate(data, new DemoDatasetOptions(Seed: 4, TrainPerClass: 4, ValPerClass: 2, Size: 64));
        var baseline = Baseline(data);
        var arms = new[] { new AblationVariant("baseline", baseline), new AblationVariant("no masked conv", baseline with { MaskedConv = false }) };
        var probe = new LinprobeArgs
        {
            Model = "convmae_tiny_cpu", InputSize = 64, DataPath = data, BatchSize = 16, Epochs = 1, WarmupEpochs = 0, Blr = 20,
            GlobalPool = true, MaxSteps = 2, NumWorkers = 0, Seed = 5,
        };
        var output = dir.File("ablations");

        var first = Ablations.Run(arms, probe, output, sweep: "first");
        Assert.Equal(["baseline", "no masked conv", Ablations.RandomInit], first.Select(r => r.Variant));
        Assert.All(first, r => Assert.InRange(r.ProbeAcc1, 0, 100));
        Assert.False(first[1].MaskedConv);
        Assert.True(double.IsFinite(first[0].LossLast));
        Assert.True(double.IsNaN(first[2].LossLast));
        Assert.True(File.Exists(Path.Combine(output, "first", "no-masked-conv", "pretrain", "checkpoint.pth")));
        Assert.Null(Ablations.CompareWithEarlier(first, Ablations.Load(output)));      // nothing earlier yet

        var second = Ablations.Run(arms[..1], probe, output, includeRandomInit: false, sweep: "second");
        var saved = Ablations.Load(output);
        Assert.Equal(4, saved.Count);                                                   // appended, not replaced
        Assert.Equal(first, saved.Take(3));                                             // read back exactly as written (NaN included)
        var comparison = Ablations.CompareWithEarlier(second, saved)!;
        var row = Assert.Single(comparison);
        Assert.Equal(("baseline", "first"), (row.Variant, row.EarlierSweep));
        Assert.Equal(first[0].ProbeAcc1, row.EarlierProbeAcc1);
        Assert.Equal(second[0].ProbeAcc1 - first[0].ProbeAcc1, row.Change);
        // Same seed and settings: the repeated arm reproduces its accuracy.
        Assert.Equal(first[0].ProbeAcc1, second[0].ProbeAcc1);
    }

    [Fact]
    public void A_damaged_results_file_is_named_with_its_line()
    {
        using var dir = TestPaths.Temp();
        Directory.CreateDirectory(dir.File("a"));
        File.WriteAllText(Path.Combine(dir.File("a"), Ablations.ResultsFileName), "{\"sweep\":\"x\",\"variant\":\"b\"}\nnot json\n");
        var e = Assert.Throws<InvalidDataException>(() => Ablations.Load(dir.File("a")));
        Assert.Contains("results.jsonl:2", e.Message);
    }
}
