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
}

/// <summary>What a run leaves behind.</summary>
public sealed record RunResult(string Kind, string OutputDir, string? Checkpoint, string MetricsPath, EpochReport? Last,
                               TimeSpan Elapsed, nn.Module Model);

/// <summary>
/// The official scripts as library calls: main_pretrain, main_finetune and main_linprobe composed from the kit's
/// parts (data, model, task, optimizer, the one loop). The CLI and the notebooks both call these.
/// </summary>
public static class Recipes
{
    public static RunResult Pretrain(PretrainArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = Prepare(a);
        var config = ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with
        {
            MaskRatio = a.MaskRatio, NormPixLoss = a.NormPixLoss, MaskedConv = a.MaskedConv, MultiScaleFusion = a.MultiScaleFusion,
        };
        manual_seed(a.Seed);
        var model = new MaskedAutoencoderConvViT(config.ValidatePretrain());
        model.to(device);
        var train = OpenTrain(a, obs);
        var loader = new ImageLoader(train, new PretrainTransform(a.InputSize),
                                     new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, a.NumWorkers, Strict: a.Strict));
        // Official: timm add_weight_decay groups, AdamW betas (0.9, 0.95).
        var optimizer = new AdamW(ParamGroups.WeightDecay(model.named_parameters(), a.WeightDecay), a.EffectiveLr, 0.9, 0.95);
        var precision = MixedPrecision.For(model, () => new MaskedAutoencoderConvViT(config.ValidatePretrain()).to(device), a.Dtype);
        obs.Info?.Invoke($"pretrain {a.Model} at {a.InputSize}px on {train.Count} images ({train.Classes.Count} classes), " +
                         $"batch {a.BatchSize}, lr {a.EffectiveLr:G3}, mask ratio {a.MaskRatio}, {a.Dtype}, device {device}");
        return Train(new PretrainTask(model), optimizer, loader, a, config, obs, evaluate: null,
                     precision, new PretrainTask((MaskedAutoencoderConvViT)precision.Compute));
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
        var task = FinetuneAugment.Task(a, model, config.NumClasses);
        var precision = MixedPrecision.For(model, () => new ConvViT(config).to(device), a.Dtype);
        obs.Info?.Invoke($"finetune {a.Model} at {a.InputSize}px on {train.Count} images ({config.NumClasses} classes), " +
                         $"batch {a.BatchSize}, lr {a.EffectiveLr:G3}, layer decay {a.LayerDecay}, {a.Dtype}, device {device}");
        return Train(task, optimizer, loader, a, config, obs, EvaluateEach(model, val, a),
                     precision, FinetuneAugment.Task(a, (ConvViT)precision.Compute, config.NumClasses));
    }

    public static RunResult Linprobe(LinprobeArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = Prepare(a);
        var train = OpenTrain(a, obs);
        var val = ImageFolder.OpenSplit(a.DataPath, "val", a.Strict);
        var config = ClassifierConfig(a, train);
        if (a.Dtype != "fp32") throw new NotSupportedException($"--dtype {a.Dtype}: linear probing runs in fp32 (its BatchNorm head is not mixed-precision safe)");
        manual_seed(a.Seed);
        var model = new ConvViT(config);
        LoadPretrained(model, a.Finetune, obs, headStd: null);
        model.UseLinearProbeHead();          // trunc_normal(0.01) head, BatchNorm1d(affine=False) in front, the rest frozen
        model.to(device);
        // Official linprobe transforms: RandomResizedCrop(scale 0.08..1, bicubic) + flip; no RandAugment, no erasing.
        var loader = new ImageLoader(train, new PretrainTransform(a.InputSize, 0.08, 1.0),
                                     new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, a.NumWorkers, Strict: a.Strict));
        var optimizer = new Lars(model.Head.parameters().ToList(), a.EffectiveLr, a.WeightDecay);
        var task = new ClassificationTask("linprobe", model, (logits, labels) => nn.functional.cross_entropy(logits, labels));
        obs.Info?.Invoke($"linear probe of {(string.IsNullOrEmpty(a.Finetune) ? "a randomly initialised" : a.Finetune)} {a.Model} " +
                         $"({(a.GlobalPool ? "mean-pooled tokens" : "token 0")}) on {train.Count} images, batch {a.BatchSize}, lr {a.EffectiveLr:G3}");
        return Train(task, optimizer, loader, a, config, obs, EvaluateEach(model, val, a));
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
        if (linearProbe) model.UseLinearProbeHead();
        Checkpoints.Load(model, checkpoint, strict: true);
        model.to(device);
        return Accuracy.Evaluate(model, EvalLoader(val, a));
    }

    static ConvViTConfig ClassifierConfig(ClassifierArgs a, ImageFolder data) =>
        ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with
        {
            NumClasses = a.NbClasses > 0 ? a.NbClasses : data.Classes.Count, GlobalPool = a.GlobalPool,
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
        if (a.Threads > 0) set_num_threads(a.Threads);
        if (a.InputSize % 16 != 0) throw new ArgumentException($"--input_size {a.InputSize}: must be divisible by 16");
        Directory.CreateDirectory(a.OutputDir);
        return Runtime.ResolveDevice(a.Device);
    }

    static ImageFolder OpenTrain(RunArgs a, RunObserver obs)
    {
        var train = ImageFolder.OpenSplit(a.DataPath, "train", a.Strict);
        foreach (var w in train.Warnings) obs.Warning?.Invoke(w);
        return train;
    }

    static RunResult Train(ITrainingTask task, IOptimizer optimizer, ImageLoader loader, RunArgs a, ConvViTConfig config,
                           RunObserver obs, Func<int, IReadOnlyDictionary<string, double>>? evaluate,
                           MixedPrecision? precision = null, ITrainingTask? computeTask = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ResumeState? resume = null;
        if (!string.IsNullOrEmpty(a.Resume))
        {
            resume = TrainingCheckpoint.Load(a.Resume, task);
            obs.Info?.Invoke($"resuming from {a.Resume} at epoch {resume.NextEpoch} (global step {resume.GlobalStep})");
        }
        var options = new TrainOptions
        {
            Epochs = a.Epochs, Lr = a.EffectiveLr, MinLr = a.MinLr, WarmupEpochs = a.WarmupEpochs, AccumIter = a.AccumIter,
            ClipGrad = (a as FinetuneArgs)?.ClipGrad, Seed = a.Seed, OutputDir = a.OutputDir,
            LogDir = string.IsNullOrEmpty(a.LogDir) ? null : a.LogDir, SaveEvery = a.SaveEvery,
            MaxSteps = a.MaxSteps > 0 ? a.MaxSteps : null,
        };
        if (loader.BatchesPerEpoch % a.AccumIter != 0)
            obs.Warning?.Invoke($"{loader.BatchesPerEpoch} steps per epoch is not a multiple of --accum_iter {a.AccumIter}: as in the " +
                                "official loop, the remainder's gradients carry into the next epoch, and a resume loses them");
        using var log = new MetricsLog(a.OutputDir, options.LogDir, resume?.GlobalStep ?? -1);
        var args = JsonSerializer.SerializeToElement(a, a.GetType()).EnumerateObject()
                                 .Select(p => new KeyValuePair<string, object?>(p.Name, JsonValue(p.Value))).ToList();
        var trainer = new Trainer(task, optimizer, loader, options, log, config.ToJson(), args)
        {
            Evaluate = evaluate, Precision = precision is { IsMixed: true } ? precision : null,
            ComputeTask = precision is { IsMixed: true } ? computeTask : null,
        };
        if (obs.Step is not null) trainer.StepCompleted += obs.Step;
        if (obs.Epoch is not null) trainer.EpochCompleted += obs.Epoch;
        if (obs.Warning is not null) trainer.Warning += obs.Warning;
        EpochReport? last;
        try { last = trainer.Run(resume); }
        finally { optimizer.Dispose(); precision?.Dispose(); }   // native memory, also when a run fails
        return new RunResult(task.Kind, a.OutputDir, last?.Checkpoint, log.Path, last, clock.Elapsed, task.Model);
    }

    static object? JsonValue(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
