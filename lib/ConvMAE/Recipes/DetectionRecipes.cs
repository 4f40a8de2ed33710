using System.ComponentModel;
using System.Text.Json.Serialization;
using ConvMAE.Data;
using ConvMAE.Data.Coco;
using ConvMAE.Detection;
using ConvMAE.Interop;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Recipes;

/// <summary>
/// The official detection recipe (DET/configs/convmae/convmae_base_mask_rcnn_FPN_25ep.py on detectron2's lazy-config
/// train_net) under the kit's run flags. lr follows the kit's rule lr = blr × batch / 256; the default blr 6.4e-4 is the
/// official lr 8e-5 at its total batch of 32. The 25-epoch schedule is 92,187 iterations (368,750 // 4) with a 0.5 %
/// warmup from a factor of 0.001, then a cosine to 0.
/// </summary>
[FlagHelp("model", "detector preset: mask_rcnn_convmae_base, mask_rcnn_convmae_cpu")]
[FlagHelp("data_path", "COCO layout: annotations/instances_{train,val}2017.json, train2017/ and val2017/ (or --train_json/--val_json)")]
public sealed record DetectArgs : RunArgs
{
    public DetectArgs()
    {
        Model = "mask_rcnn_convmae_base"; InputSize = 1024; BatchSize = 32; Blr = 6.4e-4; WeightDecay = 0.1; MaxIter = 92_187;
        CheckpointPeriod = 3688; DataPath = "data/coco";
    }

    [JsonPropertyName("num_classes"), Description("categories (0: as many as the annotation file has)")]
    public int NumClasses { get; init; }
    [JsonPropertyName("train_json"), Description("training annotations (default: DATA/annotations/instances_train2017.json)")]
    public string TrainJson { get; init; } = "";
    [JsonPropertyName("val_json"), Description("validation annotations (default: DATA/annotations/instances_val2017.json)")]
    public string ValJson { get; init; } = "";
    [JsonPropertyName("finetune"), Description("pretraining checkpoint for the backbone (official convmae_base.pth or the kit's)")]
    public string Finetune { get; init; } = "";
    [JsonPropertyName("drop_path")] public double DropPath { get; init; } = 0.1;
    [JsonPropertyName("channels_last_stages"), Description("run the backbone's stages 1-2 on channels-last maps (same function, faster; --no_channels_last_stages: the official NCHW form)")]
    public bool ChannelsLastStages { get; init; } = true;
    [JsonPropertyName("warmup_length"), Description("fraction of the run spent in linear warmup")]
    public double WarmupLength { get; init; } = 0.005;
    [JsonPropertyName("warmup_factor")] public double WarmupFactor { get; init; } = 0.001;
    [JsonPropertyName("min_scale"), Description("large-scale jitter: smallest ResizeScale factor")]
    public double MinScale { get; init; } = 0.1;
    [JsonPropertyName("max_scale"), Description("large-scale jitter: largest ResizeScale factor")]
    public double MaxScale { get; init; } = 2.0;
    [JsonPropertyName("eval_period"), Description("evaluate every N iterations (0: only at the end)")]
    public int EvalPeriod { get; init; } = 3688;
    [JsonPropertyName("eval_limit"), Description("evaluate on the first N validation images only (0: all)")]
    public int EvalLimit { get; init; }
    [JsonPropertyName("out_file"), Description("predict: the results JSON (default: OUTPUT_DIR/coco_instances_results.json)")]
    public string OutFile { get; init; } = "";

    internal string TrainAnnotations => TrainJson.Length > 0 ? TrainJson : Path.Combine(DataPath, "annotations", "instances_train2017.json");
    internal string ValAnnotations => ValJson.Length > 0 ? ValJson : Path.Combine(DataPath, "annotations", "instances_val2017.json");
    internal string ImagesOf(string split) => Path.Combine(DataPath, split);
}

/// <summary>COCO instance segmentation (Mask R-CNN on ConvViTDet) as library calls: train, evaluate, predict.</summary>
public static class DetectionRecipes
{
    public static MaskRcnnConfig Config(DetectArgs a, int numClasses)
    {
        var c = MaskRcnnConfig.Preset(a.Model, numClasses);
        if (a.InputSize != c.ImageSize) c = c.WithInputSize(a.InputSize);
        return c with { Backbone = c.Backbone with { DropPathRate = a.DropPath, ChannelsLastStages = a.ChannelsLastStages } };
    }

    public static DetPipeline Pipeline(DetectArgs a) => new(a.InputSize, a.MinScale, a.MaxScale);

    public static CocoDetectionDataset OpenTrain(DetectArgs a) => CocoDetectionDataset.Open(a.TrainAnnotations, a.ImagesOf("train2017"), training: true, a.Strict);
    public static CocoDetectionDataset OpenVal(DetectArgs a) => CocoDetectionDataset.Open(a.ValAnnotations, a.ImagesOf("val2017"), training: false, a.Strict);

    public static RunResult Train(DetectArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = RecipeRun.Prepare(a);
        var train = OpenTrain(a);
        var val = OpenVal(a);
        foreach (var w in train.Warnings.Concat(val.Warnings)) obs.Warning?.Invoke(w);
        int classes = a.NumClasses > 0 ? a.NumClasses : train.CategoryIds.Count;
        if (classes != train.CategoryIds.Count)
            throw new ArgumentException($"--num_classes {classes}, but {a.TrainAnnotations} has {train.CategoryIds.Count} categories");
        var config = Config(a, classes);
        var pipeline = Pipeline(a);
        manual_seed(a.Seed);
        var model = new MaskRcnn(config);
        if (!string.IsNullOrEmpty(a.Finetune))
        {
            var report = Checkpoints.LoadPretrained(model.Backbone.BottomUp, a.Finetune, PretrainedLoadOptions.Backbone);
            obs.Info?.Invoke($"backbone from {a.Finetune}: {report.Describe()}");
        }
        else obs.Info?.Invoke("no --finetune checkpoint: the backbone starts from random initialisation");
        model.to(device);
        var loader = new SampleLoader<DetSample, DetHostBatch>(new DetTrainSource(train, pipeline), DetHostBatch.Collate,
            new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, a.NumWorkers, Strict: a.Strict));
        // Official: AdamW betas (0.9, 0.999), weight decay on everything but norms, pos_embed and the relative-position tables.
        var groups = ParamGroups.DetectionWeightDecay(model, a.WeightDecay);
        var optimizer = new Training.AdamW(groups, a.EffectiveLr, 0.9, 0.999);
        var options = RecipeRun.IterationOptions(a, new WarmupCosine(a.EffectiveLr, a.WarmupLength, a.WarmupFactor), a.EvalPeriod);
        obs.Info?.Invoke($"detect {a.Model} at {a.InputSize}px on {train.Count} images ({classes} categories), batch {a.BatchSize}, " +
                         $"lr {a.EffectiveLr:G3}, {a.MaxIter} iterations, cosine with {a.WarmupLength:P1} warmup, {a.Dtype}, device {device}");
        IReadOnlyDictionary<string, double> Evaluate(int epoch) =>
            Metrics(DetEvaluation.Evaluate(model, val, pipeline, a.EvalLimit, a.Strict, obs.Warning));
        return RecipeRun.Train(new RunPlan<DetHostBatch>("detect", model, m => new DetectionTask((MaskRcnn)m),
                                                         () => new MaskRcnn(config).to(device), optimizer, loader, options, config.ToJson(), a)
                               { Evaluate = Evaluate }, obs);
    }

    /// <summary>detectron2's metric names: bbox/AP ... segm/APl as percentages, as COCOEvaluator reports them.</summary>
    public static Dictionary<string, double> Metrics(DetResult r)
    {
        var m = new Dictionary<string, double>();
        for (int i = 0; i < 6; i++)
        {
            m["bbox/" + Evaluation.CocoEvaluator.StatNames[i]] = r.Bbox[i] < 0 ? double.NaN : 100 * r.Bbox[i];
            m["segm/" + Evaluation.CocoEvaluator.StatNames[i]] = r.Segm[i] < 0 ? double.NaN : 100 * r.Segm[i];
        }
        return m;
    }

    /// <summary>A detector from a checkpoint: the kit's training checkpoint (its config is recorded) or an official
    /// detectron2 checkpoint ("model" with backbone./proposal_generator./roi_heads. keys), strictly.</summary>
    public static MaskRcnn Load(string checkpoint, DetectArgs a, int numClasses)
    {
        using var ck = Checkpoints.Read(checkpoint);
        var config = ck.Extras.GetValueOrDefault("convmae") is PyDict meta ? MaskRcnnConfig.FromJson((string)meta["config"]!) : Config(a, numClasses);
        config = config with { Backbone = config.Backbone with { ChannelsLastStages = a.ChannelsLastStages } };   // a way of computing, not of the model
        var model = new MaskRcnn(config);
        Checkpoints.LoadInto(model, ck.StateDict, strict: true, sourceName: checkpoint);
        return model;
    }

    public static DetResult Evaluate(DetectArgs a, string checkpoint, Action<string>? warning = null, Action<int, int>? progress = null)
    {
        var device = RecipeRun.Prepare(a);
        var val = OpenVal(a);
        foreach (var w in val.Warnings) warning?.Invoke(w);
        using var model = Load(checkpoint, a, a.NumClasses > 0 ? a.NumClasses : val.CategoryIds.Count);
        model.to(device);
        return DetEvaluation.Evaluate(model, val, Pipeline(a), a.EvalLimit, a.Strict, warning, progress);
    }

    /// <summary>Evaluates and writes the results file (official format) to --out_file.</summary>
    public static (DetResult Result, string Path) Predict(DetectArgs a, string checkpoint, Action<string>? warning = null, Action<int, int>? progress = null)
    {
        var r = Evaluate(a, checkpoint, warning, progress);
        var path = a.OutFile.Length > 0 ? a.OutFile : Path.Combine(a.OutputDir, "coco_instances_results.json");
        DetEvaluation.WriteResults(path, r.Detections);
        return (r, path);
    }
}
