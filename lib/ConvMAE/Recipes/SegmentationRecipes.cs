using System.ComponentModel;
using System.Text.Json.Serialization;
using ConvMAE.Data;
using ConvMAE.Data.Segmentation;
using ConvMAE.Evaluation;
using ConvMAE.Interop;
using ConvMAE.Segmentation;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Recipes;

/// <summary>
/// The official segmentation recipe's flags (upernet_convmae_base_512_slide_160k_ade20k.py and mmseg's train.py),
/// under the kit's shared run flags. lr follows the kit's rule lr = blr × batch / 256; the default blr 1.6e-3 is the
/// official lr 1e-4 at its total batch of 16.
/// </summary>
[FlagHelp("model", "segmenter preset: upernet_convmae_base, upernet_convmae_tiny_cpu")]
[FlagHelp("data_path", "ADE20K layout: images/{training,validation}/*.jpg and annotations/{training,validation}/*.png")]
[FlagHelp("input_size", "crop size in pixels")]
public sealed record SegmentArgs : RunArgs
{
    public SegmentArgs()
    {
        Model = "upernet_convmae_base"; InputSize = 512; BatchSize = 16; Blr = 1.6e-3; WeightDecay = 0.05; MaxIter = 160_000;
        CheckpointPeriod = 16_000; DataPath = "data/ADEChallengeData2016";
    }

    [JsonPropertyName("num_classes"), Description("classes of the label maps besides 0 = other (ADE20K: 150)")]
    public int NumClasses { get; init; } = 150;
    [JsonPropertyName("finetune"), Description("pretraining checkpoint for the backbone (official or the kit's)")]
    public string Finetune { get; init; } = "";
    [JsonPropertyName("img_scale"), Description("Resize img_scale (long,short); training scales it by 0.5-2.0")]
    public string ImgScale { get; init; } = "2048,512";
    [JsonPropertyName("layer_decay")] public double LayerDecay { get; init; } = 0.75;
    [JsonPropertyName("drop_path")] public double DropPath { get; init; } = 0.2;
    [JsonPropertyName("channels_last_stages"), Description("run the backbone's stages 1-2 on channels-last maps (same function, faster; --no_channels_last_stages: the official NCHW form)")]
    public bool ChannelsLastStages { get; init; } = true;
    [JsonPropertyName("warmup_iters")] public int WarmupIters { get; init; } = 1500;
    [JsonPropertyName("warmup_ratio")] public double WarmupRatio { get; init; } = 1e-6;
    [JsonPropertyName("power")] public double Power { get; init; } = 1.0;
    [JsonPropertyName("eval_period"), Description("evaluate on validation every N iterations (0: only at the end)")]
    public int EvalPeriod { get; init; } = 16_000;
    [JsonPropertyName("eval_limit"), Description("evaluate on the first N validation images only (0: all)")]
    public int EvalLimit { get; init; }
    [JsonPropertyName("test_mode"), Description("slide (crop_size windows every stride) or whole")]
    public string TestMode { get; init; } = "slide";
    [JsonPropertyName("stride"), Description("slide inference stride (default: the preset's, 341 at 512)")]
    public int Stride { get; init; }
    [JsonPropertyName("no_reduce_zero_label"), Description("label 0 is a class, not 'other'")]
    public bool NoReduceZeroLabel { get; init; }
    [JsonPropertyName("out_dir"), Description("predict: where prediction PNGs go")]
    public string OutDir { get; init; } = "";

    internal (int Long, int Short) Scale()
    {
        var p = ImgScale.Split(',', StringSplitOptions.TrimEntries);
        return p.Length == 2 && int.TryParse(p[0], out var l) && int.TryParse(p[1], out var s)
            ? (l, s) : throw new ArgumentException($"--img_scale {ImgScale}: expected LONG,SHORT, e.g. 2048,512");
    }
}

/// <summary>ADE20K semantic segmentation (UperNet on ConvMAE) as library calls: train, evaluate, predict.</summary>
public static class SegmentationRecipes
{
    public static SegmenterConfig Config(SegmentArgs a)
    {
        var c = SegmenterConfig.Preset(a.Model, a.NumClasses);
        c = c with
        {
            Backbone = c.Backbone.WithInputSize(a.InputSize) with { DropPathRate = a.DropPath, ChannelsLastStages = a.ChannelsLastStages }, CropSize = a.InputSize, TestMode = a.TestMode,
            Stride = a.Stride > 0 ? a.Stride : (int)Math.Round(a.InputSize * 341.0 / 512),
        };
        return c;
    }

    public static SegPipeline Pipeline(SegmentArgs a)
    {
        var (l, s) = a.Scale();
        return new SegPipeline(l, s, CropSize: a.InputSize, ReduceZeroLabel: !a.NoReduceZeroLabel);
    }

    public static RunResult Train(SegmentArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = RecipeRun.Prepare(a);
        var train = Ade20kDataset.Open(a.DataPath, "training", a.NumClasses, a.Strict);
        var val = Ade20kDataset.Open(a.DataPath, "validation", a.NumClasses, a.Strict);
        foreach (var w in train.Warnings.Concat(val.Warnings)) obs.Warning?.Invoke(w);
        var config = Config(a);
        var pipeline = Pipeline(a);
        manual_seed(a.Seed);
        var model = new UperNetSegmenter(config);
        if (!string.IsNullOrEmpty(a.Finetune))
        {
            var report = Checkpoints.LoadPretrained(model.Backbone, a.Finetune, PretrainedLoadOptions.Backbone);
            obs.Info?.Invoke($"backbone from {a.Finetune}: {report.Describe()}");
        }
        else obs.Info?.Invoke("no --finetune checkpoint: the backbone starts from random initialisation");
        model.to(device);
        var loader = new SampleLoader<SegSample, SegHostBatch>(new SegTrainSource(train, pipeline),
            (slot, samples) => SegHostBatch.Collate(slot, samples, a.InputSize),
            new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, a.NumWorkers, Strict: a.Strict));
        // Official: AdamW betas (0.9, 0.999), the segmentation layer-decay constructor (13 layers for ConvMAE-B).
        var groups = ParamGroups.SegmentationLayerDecay(model.named_parameters(), a.WeightDecay, a.LayerDecay, config.Backbone.Depth[2]);
        var optimizer = new Training.AdamW(groups, a.EffectiveLr, 0.9, 0.999);
        var options = RecipeRun.IterationOptions(a, new WarmupPoly(a.EffectiveLr, a.Power, a.MinLr, a.WarmupIters, a.WarmupRatio), a.EvalPeriod);
        obs.Info?.Invoke($"segment {a.Model} at {a.InputSize}px on {train.Count} images ({a.NumClasses} classes), batch {a.BatchSize}, " +
                         $"lr {a.EffectiveLr:G3}, {a.MaxIter} iterations, poly with {a.WarmupIters} warmup, {a.Dtype}, device {device}");
        IReadOnlyDictionary<string, double> Evaluate(int epoch)
        {
            var r = SegEvaluation.Evaluate(model, val, pipeline, a.Strict, a.EvalLimit, obs.Warning);
            return Metrics(r);
        }
        return RecipeRun.Train(new RunPlan<SegHostBatch>("segment", model, m => new SegmentationTask((UperNetSegmenter)m),
                                                         () => new UperNetSegmenter(config).to(device), optimizer, loader, options, config.ToJson(), a)
                               { Evaluate = Evaluate }, obs);
    }

    /// <summary>mIoU, mAcc and aAcc as fractions (mmseg's metric keys).</summary>
    public static Dictionary<string, double> Metrics(SegResult r) => new() { ["mIoU"] = r.MIoU, ["mAcc"] = r.MAcc, ["aAcc"] = r.AAcc };

    /// <summary>A segmenter from a checkpoint: the kit's training checkpoint (its config is recorded in it) or an
    /// official mmseg checkpoint (state_dict with backbone./decode_head./auxiliary_head. keys), strictly.</summary>
    public static UperNetSegmenter Load(string checkpoint, SegmentArgs a)
    {
        using var ck = Checkpoints.Read(checkpoint);
        var config = ck.Extras.GetValueOrDefault("convmae") is PyDict meta ? SegmenterConfig.FromJson((string)meta["config"]!) : Config(a);
        config = config with
        {
            TestMode = a.TestMode, Stride = a.Stride > 0 ? a.Stride : config.Stride,
            Backbone = config.Backbone with { ChannelsLastStages = a.ChannelsLastStages },   // a way of computing, not of the model
        };
        var model = new UperNetSegmenter(config);
        Checkpoints.LoadInto(model, ck.StateDict, strict: true, sourceName: checkpoint);
        return model;
    }

    public static SegResult Evaluate(SegmentArgs a, string checkpoint, Action<string>? warning = null, Action<int, int>? progress = null)
    {
        var device = RecipeRun.Prepare(a);
        var val = Ade20kDataset.Open(a.DataPath, "validation", a.NumClasses, a.Strict);
        using var model = Load(checkpoint, a);
        model.to(device);
        return SegEvaluation.Evaluate(model, val, Pipeline(a), a.Strict, a.EvalLimit, warning, progress: progress);
    }

    /// <summary>Writes one PNG of class indices 0..K−1 per validation image into --out_dir (eval-seg reads them).</summary>
    public static SegResult Predict(SegmentArgs a, string checkpoint, Action<string>? warning = null)
    {
        if (string.IsNullOrEmpty(a.OutDir)) throw new ArgumentException("segment predict needs --out_dir DIR");
        Directory.CreateDirectory(a.OutDir);
        var device = RecipeRun.Prepare(a);
        var val = Ade20kDataset.Open(a.DataPath, "validation", a.NumClasses, a.Strict);
        using var model = Load(checkpoint, a);
        model.to(device);
        return SegEvaluation.Evaluate(model, val, Pipeline(a), a.Strict, a.EvalLimit, warning,
            p => IndexedPng.Write(Path.Combine(a.OutDir, p.Name + ".png"), new LabelMap(p.Width, p.Height, p.Classes)));
    }
}
