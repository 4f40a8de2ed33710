using ConvMAE.DataPrep;
using ConvMAE.Modeling;
using ConvMAE.Recipes;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Training;

/// <summary>
/// The probe sweep (--blr_sweep): K heads in one pass must each end exactly where a separate probe at its rate ends,
/// and the reported accuracy is the best head's.
/// </summary>
[Trait("Category", "Integration")]
public class ProbeSweepTests
{
    static LinprobeArgs Probe(string data, string output) => new()
    {
        Model = "convmae_tiny_cpu", InputSize = 64, DataPath = data, OutputDir = output, LogDir = "", BatchSize = 16,
        Epochs = 2, WarmupEpochs = 1, GlobalPool = true, MaxSteps = 0, NumWorkers = 0, Seed = 3, SaveEvery = 2,
    };

    /// <summary>Head k's linear weight (the sweep's heads.k.1, or the official probe's head.1).</summary>
    static Tensor HeadWeight(ConvViT model, int k) => model.Head switch
    {
        ProbeHeads heads => ((Linear)heads.Heads[k].children().ElementAt(1)).weight!,
        Sequential single => ((Linear)single.children().ElementAt(1)).weight!,
        _ => throw new InvalidOperationException("not a probe"),
    };

    [Fact]
    public void Each_head_of_a_sweep_ends_where_a_separate_probe_at_its_rate_ends()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("data");
        DemoDataset.Generate(data, new DemoDatasetOptions(Seed: 2, TrainPerClass: 5, ValPerClass: 2, Size: 64));
        double[] blrs = [2, 30];
        var sweep = ImageRecipes.Linprobe(Probe(data, dir.File("sweep")) with { BlrSweep = "2, 30" });
        var sweepModel = (ConvViT)sweep.Model;
        var eval = sweep.Last!.Eval;
        for (int k = 0; k < blrs.Length; k++)
        {
            var single = ImageRecipes.Linprobe(Probe(data, dir.File($"single{k}")) with { Blr = blrs[k] });
            var expected = HeadWeight((ConvViT)single.Model, 0);
            var actual = HeadWeight(sweepModel, k);
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-6),
                        $"head {k} (blr {blrs[k]}): max difference {(actual - expected).abs().max().item<float>():G3} from the separate probe");
            Assert.Equal(single.Last!.Eval["acc1"], eval[$"acc1_blr_{blrs[k]}"], 6);
            single.Model.Dispose();
        }
        // The two rates really differ (else the comparison above proves nothing) …
        Assert.False(HeadWeight(sweepModel, 0).allclose(HeadWeight(sweepModel, 1)));
        // … and acc1 is the best head's, named by best_blr.
        Assert.Equal(Math.Max(eval["acc1_blr_2"], eval["acc1_blr_30"]), eval["acc1"]);
        Assert.Equal(eval["acc1"], eval[$"acc1_blr_{eval["best_blr"]}"]);
        sweep.Model.Dispose();
    }

    [Theory]
    [InlineData("5,x", "'x' is not a positive number")]
    [InlineData("5,-1", "'-1' is not a positive number")]
    [InlineData("5,5", "repeated")]
    public void A_bad_sweep_is_named(string sweep, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new LinprobeArgs { BlrSweep = sweep }.ProbeBlrs);
        Assert.Contains(message, e.Message);
        Assert.Contains("--blr_sweep", e.Message);
    }

    [Fact]
    public void Without_a_sweep_the_probe_is_the_official_one()
    {
        Assert.Equal([0.1], new LinprobeArgs().ProbeBlrs);
        using var model = new ConvViT(ConvViTConfig.ConvMAETinyCpu);
        model.UseLinearProbeHeads(1);
        Assert.Contains("head.1.weight", model.state_dict().Keys);
        Assert.Contains("head.0.running_mean", model.state_dict().Keys);
    }
}
