using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConvMAE.Recipes;

/// <summary>Settings of the quickstart pipeline (the README's main job).</summary>
public sealed record QuickstartArgs
{
    [JsonPropertyName("data_path"), Description("ImageNet-layout data (environment/setup.sh generates data/demo)")]
    public string DataPath { get; init; } = "data/demo";
    [JsonPropertyName("output_dir"), Description("each stage writes a sub-folder here, and summary.json")]
    public string OutputDir { get; init; } = "runs/quickstart";
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("threads"), Description("libtorch threads (0: libtorch's default)")]
    public int Threads { get; init; }
    [JsonPropertyName("smoke"), Description("two epochs per stage, to check the wiring (CI)")]
    public bool Smoke { get; init; }
}

/// <summary>The accuracies the quickstart reports (top-1 on val, percent) and where everything went.</summary>
public sealed record QuickstartResult(double PretrainLossFirstEpoch, double PretrainLossLastEpoch, double ProbePretrained,
                                      double ProbeRandom, double Finetuned, string OutputDir, TimeSpan Elapsed)
{
    /// <summary>The base learning rate of the best probe head for each encoder (from the same sweep).</summary>
    public double ProbePretrainedBlr { get; init; } = double.NaN;
    public double ProbeRandomBlr { get; init; } = double.NaN;
    public double ProbeGain => ProbePretrained - ProbeRandom;
}

/// <summary>
/// The paper's first half on the embedded data, in minutes on 2 CPU cores: pretrain the tiny preset (64 px), then
/// linear-probe the pretrained encoder and, for comparison, a randomly initialised one, then finetune the
/// pretrained encoder. Linear probing uses the official LARS + BatchNorm head on mean-pooled tokens (--global_pool;
/// the official token-0 default suits 12-block encoders, not a 2-block one) with a learning rate raised for a run
/// of hundreds rather than hundreds of thousands of steps.
/// </summary>
public static class Quickstart
{
    public const string Model = "convmae_tiny_cpu";
    public const int InputSize = 64;
    /// <summary>
    /// The probe's base learning rates, one head each in one pass (<see cref="LinprobeArgs.BlrSweep"/>): every encoder,
    /// pretrained or random, is read at its own best rate, so the random-init floor is not an unstable probe.
    /// </summary>
    public const string ProbeBlrSweep = "5,10,20,40,80,160";

    public static PretrainArgs PretrainStage(QuickstartArgs q) => new()
    {
        Model = Model, InputSize = InputSize, DataPath = q.DataPath, OutputDir = Path.Combine(q.OutputDir, "pretrain"),
        LogDir = Path.Combine(q.OutputDir, "pretrain"), BatchSize = 64, Epochs = q.Smoke ? 2 : 60, WarmupEpochs = q.Smoke ? 1 : 5,
        Blr = 1.5e-4, SaveEvery = 20, Seed = q.Seed, Threads = q.Threads,
    };

    public static LinprobeArgs ProbeStage(QuickstartArgs q, string? pretrained) => new()
    {
        Model = Model, InputSize = InputSize, DataPath = q.DataPath, Finetune = pretrained ?? "",
        OutputDir = Path.Combine(q.OutputDir, pretrained is null ? "linprobe-random" : "linprobe-pretrained"), LogDir = "",
        BatchSize = 256, Epochs = q.Smoke ? 2 : 40, WarmupEpochs = q.Smoke ? 1 : 4, Blr = 20, BlrSweep = ProbeBlrSweep, GlobalPool = true,
        SaveEvery = q.Smoke ? 1 : 40, Seed = q.Seed, Threads = q.Threads,
    };

    public static FinetuneArgs FinetuneStage(QuickstartArgs q, string pretrained) => new()
    {
        Model = Model, InputSize = InputSize, DataPath = q.DataPath, Finetune = pretrained,
        OutputDir = Path.Combine(q.OutputDir, "finetune"), LogDir = Path.Combine(q.OutputDir, "finetune"),
        BatchSize = 64, Epochs = q.Smoke ? 2 : 30, WarmupEpochs = q.Smoke ? 1 : 3, Blr = 1e-3, SaveEvery = q.Smoke ? 1 : 30,
        Seed = q.Seed, Threads = q.Threads,
    };

    public static QuickstartResult Run(QuickstartArgs q, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        if (!Directory.Exists(q.DataPath))
            throw new DirectoryNotFoundException($"--data_path {Path.GetFullPath(q.DataPath)} not found; environment/setup.sh generates " +
                                                 "the demo data (or: data-prep generate-demo --output data/demo)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        obs.Info?.Invoke("1/4 pretraining");
        var pretrain = ImageRecipes.Pretrain(PretrainStage(q), obs);
        var losses = Training.MetricsLog.Read(pretrain.MetricsPath).Where(r => r["kind"].GetString() == "epoch")
                             .Select(r => r["train_loss"].GetDouble()).ToList();
        var checkpoint = pretrain.Checkpoint ?? throw new InvalidOperationException("pretraining wrote no checkpoint");
        obs.Info?.Invoke("2/4 linear probe of the pretrained encoder");
        var probePre = ImageRecipes.Linprobe(ProbeStage(q, checkpoint), obs);
        obs.Info?.Invoke("3/4 linear probe of a randomly initialised encoder (the baseline)");
        var probeRandom = ImageRecipes.Linprobe(ProbeStage(q, null), obs);
        obs.Info?.Invoke("4/4 finetuning the pretrained encoder");
        var finetune = ImageRecipes.Finetune(FinetuneStage(q, checkpoint), obs);
        var result = new QuickstartResult(losses[0], losses[^1], Acc1(probePre), Acc1(probeRandom), Acc1(finetune), q.OutputDir, clock.Elapsed)
        {
            ProbePretrainedBlr = BestBlr(probePre), ProbeRandomBlr = BestBlr(probeRandom),
        };
        File.WriteAllText(Path.Combine(q.OutputDir, "summary.json"), JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        return result;
    }

    static double Acc1(RunResult r) => r.Last?.Eval.GetValueOrDefault("acc1", double.NaN) ?? double.NaN;
    static double BestBlr(RunResult r) => r.Last?.Eval.GetValueOrDefault("best_blr", double.NaN) ?? double.NaN;
}
