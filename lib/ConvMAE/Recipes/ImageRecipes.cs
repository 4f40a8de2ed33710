using System.Text.Json;
using ConvMAE.Data;
using ConvMAE.Evaluation;
using ConvMAE.Interop;
using ConvMAE.Modeling;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Recipes;

/// <summary>Callbacks a front end (the CLI's progress bar, a notebook's live display) attaches to a run.</summary>
public sealed record RunObserver
{
    public Action<string>? Info { get; init; }
    public Action<string>? Warning { get; init; }
    public Action<StepReport>? Step { get; init; }
    public Action<EpochReport>? Epoch { get; init; }
    /// <summary>An evaluation between epochs (iteration-based recipes): the iteration and its metrics.</summary>
    public Action<long, IReadOnlyDictionary<string, double>>? Evaluated { get; init; }
}

/// <summary>What a run leaves behind.</summary>
public sealed record RunResult(string Kind, string OutputDir, string? Checkpoint, string MetricsPath, EpochReport? Last,
                               TimeSpan Elapsed, nn.Module Model);

/// <summary>
/// A run assembled by a recipe: everything the shared sequence in <see cref="RecipeRun.Train{THost}"/> needs. The
/// task is described as a function of the model so mixed precision builds it once, on the model that computes.
/// </summary>
public sealed record RunPlan<THost>(string Kind, nn.Module Model, Func<nn.Module, ITrainingTask<THost>> TaskFor, Func<nn.Module> MakeCopy,
                                    IOptimizer Optimizer, IBatchLoader<THost> Loader, TrainOptions Options, string ConfigJson, RunArgs Args)
    where THost : IHostBatch
{
    public Func<int, IReadOnlyDictionary<string, double>>? Evaluate { get; init; }
    public IReadOnlyList<ITrainerHook> Hooks { get; init; } = [];
}

/// <summary>The sequence every recipe shares: resume, mixed precision, logger, the one loop, disposal.</summary>
public static class RecipeRun
{
    public static RunResult Train<THost>(RunPlan<THost> plan, RunObserver obs) where THost : IHostBatch
    {
        var a = plan.Args;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (a.Dtype == "bf16" && plan.Model.parameters().First().device_type == DeviceType.CPU
            && CpuFeatures.Current.Bf16Warning() is { } slow)
            obs.Warning?.Invoke(slow);
        var task = MixedPrecision<THost>.Apply(a.Dtype, plan.Model, plan.TaskFor, plan.MakeCopy);
        try
        {
            ResumeState? resume = null;
            if (!string.IsNullOrEmpty(a.Resume))
            {
                resume = TrainingCheckpoint.Load(a.Resume, plan.Kind, plan.Model);
                obs.Info?.Invoke($"resuming from {a.Resume} at iteration {resume.Iteration ?? (long)resume.NextEpoch * plan.Loader.BatchesPerEpoch} " +
                                 $"(epoch {resume.NextEpoch})");
            }
            if (plan.Loader.BatchesPerEpoch % a.AccumIter != 0)
                obs.Warning?.Invoke($"{plan.Loader.BatchesPerEpoch} steps per epoch is not a multiple of --accum_iter {a.AccumIter}: as in the " +
                                    "official loop, the remainder's gradients carry into the next epoch, and a resume loses them");
            using var log = new MetricsLog(a.OutputDir, plan.Options.LogDir, resume?.Iteration ?? resume?.GlobalStep ?? -1);
            var args = JsonSerializer.SerializeToElement(a, a.GetType()).EnumerateObject()
                                     .Select(p => new KeyValuePair<string, object?>(p.Name, JsonValue(p.Value))).ToList();
            var trainer = new Trainer<THost>(task, plan.Optimizer, plan.Loader, plan.Options, log, plan.ConfigJson, args)
            {
                Evaluate = plan.Evaluate, Hooks = plan.Hooks,
            };
            if (obs.Step is not null) trainer.StepCompleted += obs.Step;
            if (obs.Epoch is not null) trainer.EpochCompleted += obs.Epoch;
            if (obs.Warning is not null) trainer.Warning += obs.Warning;
            if (obs.Evaluated is not null) trainer.Evaluated += obs.Evaluated;
            var last = trainer.Run(resume);
            return new RunResult(plan.Kind, a.OutputDir, last?.Checkpoint, log.Path, last, clock.Elapsed, plan.Model);
        }
        finally
        {
            plan.Optimizer.Dispose();                       // native memory, also when a run fails
            (task as IDisposable)?.Dispose();
        }
    }

    /// <summary>Threads, output folder and device, as every recipe starts.</summary>
    public static Device Prepare(RunArgs a)
    {
        if (a.Threads > 0) set_num_threads(a.Threads);
        Directory.CreateDirectory(a.OutputDir);
        return Runtime.ResolveDevice(a.Device);
    }

    /// <summary>The loop settings shared by the epoch-based image recipes (MAE's half-cycle cosine with warmup).</summary>
    public static TrainOptions EpochOptions(RunArgs a, double? clipGrad = null) => new()
    {
        Epochs = a.Epochs, MaxIter = a.MaxIter > 0 ? a.MaxIter : null,
        Schedule = new HalfCycleCosine(a.EffectiveLr, a.MinLr, a.WarmupEpochs, a.MaxIter > 0 ? 0 : a.Epochs),
        AccumIter = a.AccumIter, ClipGrad = clipGrad, Seed = a.Seed, OutputDir = a.OutputDir,
        LogDir = string.IsNullOrEmpty(a.LogDir) ? null : a.LogDir,
        CheckpointPeriod = a.CheckpointPeriod > 0 ? Period.Iterations(a.CheckpointPeriod) : Period.Epochs(a.SaveEvery),
        MaxSteps = a.MaxSteps > 0 ? a.MaxSteps : null,
    };

    /// <summary>The loop settings shared by the iteration-based recipes (detectron2/mmcv: --max_iter, evaluation and
    /// checkpoints every N iterations, 0 meaning only at the end).</summary>
    public static TrainOptions IterationOptions(RunArgs a, ILrSchedule schedule, int evalPeriod) => new()
    {
        MaxIter = a.MaxIter, Epochs = a.Epochs, Seed = a.Seed, OutputDir = a.OutputDir, AccumIter = a.AccumIter,
        LogDir = string.IsNullOrEmpty(a.LogDir) ? null : a.LogDir, Schedule = schedule,
        CheckpointPeriod = a.CheckpointPeriod > 0 ? Period.Iterations(a.CheckpointPeriod) : Period.Never,
        EvalPeriod = evalPeriod > 0 ? Period.Iterations(evalPeriod) : Period.Never,
        MaxSteps = a.MaxSteps > 0 ? a.MaxSteps : null,
    };

    static object? JsonValue(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}

/// <summary>
/// The official image scripts as library calls: main_pretrain, main_finetune and main_linprobe composed from the
/// kit's parts (data, model, task, optimizer, the one loop). The CLI and the notebooks both call these.
/// </summary>
public static class ImageRecipes
{
    public static RunResult Pretrain(PretrainArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = Prepare(a);
        var config = (ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with
        {
            MaskRatio = a.MaskRatio, NormPixLoss = a.NormPixLoss, MaskedConv = a.MaskedConv, MultiScaleFusion = a.MultiScaleFusion,
            SparseStages = a.SparseStages,
        }).ValidatePretrain();
        manual_seed(a.Seed);
        var model = new MaskedAutoencoderConvViT(config);
        model.to(device);
        var train = OpenTrain(a, obs);
        var loader = new ImageLoader(train, new PretrainTransform(a.InputSize),
                                     new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, a.NumWorkers, Strict: a.Strict));
        // Official: timm add_weight_decay groups, AdamW betas (0.9, 0.95).
        var optimizer = new AdamW(ParamGroups.WeightDecay(model.named_parameters(), a.WeightDecay), a.EffectiveLr, 0.9, 0.95);
        obs.Info?.Invoke($"pretrain {a.Model} at {a.InputSize}px on {train.Count} images ({train.Classes.Count} classes), " +
                         $"batch {a.BatchSize}, lr {a.EffectiveLr:G3}, mask ratio {a.MaskRatio}, {a.Dtype}, device {device}");
        return RecipeRun.Train(new RunPlan<HostBatch>("pretrain", model, m => new PretrainTask((MaskedAutoencoderConvViT)m),
                                                      () => new MaskedAutoencoderConvViT(config).to(device), optimizer, loader,
                                                      RecipeRun.EpochOptions(a), config.ToJson(), a), obs);
    }

    public static RunResult Finetune(FinetuneArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = Prepare(a);
        var train = OpenTrain(a, obs);
        var val = ImageFolder.OpenSplit(a.DataPath, "val", a.Strict);
        var config = ClassifierConfig(a, train) with { DropPathRate = a.DropPath };
        manual_seed(a.Seed);
        var model = new ConvViT(config);
        LoadPretrained(model, a.Finetune, obs, headStd: 2e-5);
        model.to(device);
        var loader = new ImageLoader(train, new FinetuneTransform(a.InputSize, string.IsNullOrEmpty(a.Aa) ? null : RandAugment.Parse(a.Aa)),
                                     new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, a.NumWorkers, Strict: a.Strict));
        var groups = ParamGroups.LayerDecay(model.named_parameters(), a.WeightDecay, a.LayerDecay, config.Depth[2]);
        var optimizer = new AdamW(groups, a.EffectiveLr);
        obs.Info?.Invoke($"finetune {a.Model} at {a.InputSize}px on {train.Count} images ({config.NumClasses} classes), " +
                         $"batch {a.BatchSize}, lr {a.EffectiveLr:G3}, layer decay {a.LayerDecay}, {a.Dtype}, device {device}");
        return RecipeRun.Train(new RunPlan<HostBatch>("finetune", model, m => FinetuneAugment.Task(a, (ConvViT)m, config.NumClasses),
                                                      () => new ConvViT(config).to(device), optimizer, loader,
                                                      RecipeRun.EpochOptions(a, a.ClipGrad), config.ToJson(), a)
                               { Evaluate = EvaluateEach(model, val, a) }, obs);
    }

    public static RunResult Linprobe(LinprobeArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = Prepare(a);
        var train = OpenTrain(a, obs);
        var val = ImageFolder.OpenSplit(a.DataPath, "val", a.Strict);
        var config = ClassifierConfig(a, train);
        var blrs = a.ProbeBlrs;
        if (blrs.Count > 1 && a.Lr is not null) throw new ArgumentException("--blr_sweep sets the probes' rates: leave --lr unset");
        manual_seed(a.Seed);
        var model = new ConvViT(config);
        LoadPretrained(model, a.Finetune, obs, headStd: null);
        model.UseLinearProbeHeads(blrs.Count);   // trunc_normal(0.01) head(s), BatchNorm1d(affine=False) in front, the rest frozen
        model.to(device);
        // Official linprobe transforms: RandomResizedCrop(scale 0.08..1, bicubic) + flip; no RandAugment, no erasing.
        var loader = new ImageLoader(train, new PretrainTransform(a.InputSize, 0.08, 1.0),
                                     new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, a.NumWorkers, Strict: a.Strict));
        // A sweep runs the schedule at the largest rate and scales each head's parameters down to its own rate.
        var run = blrs.Count == 1 ? a : a with { Blr = blrs.Max() };
        var (parameters, scales) = ProbeParameters(model, blrs);
        var optimizer = new Lars(parameters, run.EffectiveLr, a.WeightDecay, lrScales: scales);
        int classes = config.NumClasses;
        Func<Tensor, Tensor, Tensor> criterion = blrs.Count == 1
            ? (logits, labels) => nn.functional.cross_entropy(logits, labels)
            : (logits, labels) => ProbeHeads.SummedCrossEntropy(logits, labels, blrs.Count, classes);
        obs.Info?.Invoke($"linear probe of {(string.IsNullOrEmpty(a.Finetune) ? "a randomly initialised" : a.Finetune)} {a.Model} " +
                         $"({(a.GlobalPool ? "mean-pooled tokens" : "token 0")}) on {train.Count} images, batch {a.BatchSize}, " +
                         (blrs.Count == 1 ? $"lr {a.EffectiveLr:G3}" : $"{blrs.Count} heads at blr {string.Join(", ", blrs)} (one pass)") + $", {a.Dtype}");
        return RecipeRun.Train(new RunPlan<HostBatch>("linprobe", model, m => new ClassificationTask("linprobe", (ConvViT)m, criterion),
                                                      () => MakeProbe(config, device, blrs.Count), optimizer, loader, RecipeRun.EpochOptions(run), config.ToJson(), a)
                               { Evaluate = blrs.Count == 1 ? EvaluateEach(model, val, a) : EvaluateSweep(model, val, a, blrs) }, obs);
    }

    /// <summary>The probe's trainable parameters and each one's share of the schedule's rate (its head's blr / the largest).</summary>
    static (List<TorchSharp.Modules.Parameter> Params, List<double> Scales) ProbeParameters(ConvViT model, IReadOnlyList<double> blrs)
    {
        if (model.Head is not ProbeHeads heads) return (model.Head.parameters().ToList(), model.Head.parameters().Select(_ => 1.0).ToList());
        var ps = new List<TorchSharp.Modules.Parameter>();
        var scales = new List<double>();
        for (int k = 0; k < heads.Count; k++)
            foreach (var p in heads.Heads[k].parameters()) { ps.Add(p); scales.Add(blrs[k] / blrs.Max()); }
        return (ps, scales);
    }

    /// <summary>
    /// A probe sweep's metrics: acc1/acc5/loss of the head with the best top-1 (so each encoder is read at its own best
    /// rate), that head's blr as best_blr, and every head's top-1 as acc1_blr_&lt;value&gt;.
    /// </summary>
    public static IReadOnlyDictionary<string, double> SweepMetrics(IReadOnlyList<EvalResult> perHead, IReadOnlyList<double> blrs)
    {
        int best = Enumerable.Range(0, perHead.Count).MaxBy(k => perHead[k].Acc1);
        var m = new Dictionary<string, double>(perHead[best].Metrics) { ["best_blr"] = blrs[best] };
        for (int k = 0; k < perHead.Count; k++) m[$"acc1_blr_{blrs[k].ToString(System.Globalization.CultureInfo.InvariantCulture)}"] = perHead[k].Acc1;
        return m;
    }

    static Func<int, IReadOnlyDictionary<string, double>> EvaluateSweep(ConvViT model, ImageFolder val, RunArgs a, IReadOnlyList<double> blrs)
    {
        var loader = EvalLoader(val, a);
        return epoch => SweepMetrics(Accuracy.EvaluateHeads(model, loader, blrs.Count, epoch), blrs);
    }

    static ConvViT MakeProbe(ConvViTConfig config, Device device, int heads)
    {
        var copy = new ConvViT(config);
        copy.UseLinearProbeHeads(heads);
        copy.to(device);
        return copy;
    }

    /// <summary>The pretraining model stored in one of the kit's checkpoints (its config is recorded in the checkpoint).</summary>
    public static MaskedAutoencoderConvViT LoadAutoencoder(string checkpoint)
    {
        using var ckpt = Checkpoints.Read(checkpoint);
        var model = new MaskedAutoencoderConvViT(ConvViTConfig.FromJson((string)TrainingCheckpoint.Meta(ckpt)["config"]!));
        Checkpoints.LoadInto(model, ckpt.StateDict, strict: true, sourceName: checkpoint);
        return model;
    }

    /// <summary>Top-1/top-5 of a classifier checkpoint (the kit's, after finetune or linprobe) on val/.</summary>
    public static EvalResult Evaluate(ClassifierArgs a, string checkpoint, bool linearProbe)
    {
        var device = Prepare(a);
        var val = ImageFolder.OpenSplit(a.DataPath, "val", a.Strict);
        var model = new ConvViT(ClassifierConfig(a, val));
        int heads = linearProbe && a is LinprobeArgs probe ? probe.ProbeBlrs.Count : 1;
        if (linearProbe) model.UseLinearProbeHeads(heads);
        Checkpoints.Load(model, checkpoint, strict: true);
        model.to(device);
        return Accuracy.EvaluateHeads(model, EvalLoader(val, a), heads).MaxBy(r => r.Acc1)!;
    }

    static ConvViTConfig ClassifierConfig(ClassifierArgs a, ImageFolder data) =>
        ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with
        {
            NumClasses = a.NbClasses > 0 ? a.NbClasses : data.Classes.Count, GlobalPool = a.GlobalPool,
            ChannelsLastStages = a.ChannelsLastStages,
        };

    static ImageLoader EvalLoader(ImageFolder val, RunArgs a) =>
        new(val, new EvalTransform(a.InputSize), new LoaderOptions(a.BatchSize, Shuffle: false, DropLast: false, a.Seed, a.NumWorkers, Strict: a.Strict));

    static Func<int, IReadOnlyDictionary<string, double>> EvaluateEach(ConvViT model, ImageFolder val, RunArgs a)
    {
        var loader = EvalLoader(val, a);
        return epoch => Accuracy.Evaluate(model, loader, epoch).Metrics;
    }

    /// <summary>Official finetune/linprobe start: load the pretrained encoder (decoder keys dropped, pos_embed resized
    /// when the grid differs), then re-draw the head (finetune: std 2e-5; linprobe: UseLinearProbeHead does it).</summary>
    static void LoadPretrained(ConvViT model, string path, RunObserver obs, double? headStd)
    {
        if (string.IsNullOrEmpty(path))
        {
            obs.Info?.Invoke("no --finetune checkpoint: the encoder starts from random initialisation");
            return;
        }
        var report = Checkpoints.LoadPretrained(model, path, PretrainedLoadOptions.Finetune);
        obs.Info?.Invoke($"loaded {path}: {report.Describe()}");
        if (headStd is { } std && model.Head is TorchSharp.Modules.Linear head) Init.TruncNormal(head.weight!, std);
    }

    static Device Prepare(RunArgs a)
    {
        if (a.InputSize % 16 != 0) throw new ArgumentException($"--input_size {a.InputSize}: must be divisible by 16");
        return RecipeRun.Prepare(a);
    }

    static ImageFolder OpenTrain(RunArgs a, RunObserver obs)
    {
        var train = ImageFolder.OpenSplit(a.DataPath, "train", a.Strict);
        foreach (var w in train.Warnings) obs.Warning?.Invoke(w);
        return train;
    }
}
