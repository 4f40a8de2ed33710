using ConvMAE.Data.Video;
using ConvMAE.Interop;
using ConvMAE.Modeling;
using ConvMAE.Training;
using ConvMAE.Video;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Recipes;

/// <summary>
/// VideoMAE's scripts for VideoConvMAE as library calls: pretraining (run_mae_pretraining.py), finetuning with
/// per-epoch single-view validation (run_class_finetuning.py) and multi-view testing (its --eval / final_test), all on
/// the shared loop with the kit's checkpoints and --resume. Departure, named: the learning-rate schedule is the kit's
/// (MAE's) half-cycle cosine with linear warmup from 0, where VideoMAE warms up from --warmup_lr 1e-6 per iteration.
/// </summary>
public static class VideoRecipes
{
    public static VideoConvMAEConfig Config(VideoArgs a) =>
        VideoConvMAEConfig.Preset(a.Model) with
        {
            ImgSize = a.InputSize, NumFrames = a.NumFrames, TubeletSize = a.TubeletSize, DwKernelT = a.DwKernelT,
            ChannelsLastStages = a.ChannelsLastStages,
        };

    public static RunResult Pretrain(VideoPretrainArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = RecipeRun.Prepare(a);
        var config = (Config(a) with
        {
            MaskRatio = a.MaskRatio, MaskType = a.MaskType, Msd = a.Msd, NormTarget = a.NormlizeTarget, MaskedConv = a.MaskedConv,
            SparseStages = a.SparseStages,
        }).Validate();
        var loader = VideoData.PretrainLoader(a, obs);
        var train = loader.Source.Data;
        manual_seed(a.Seed);
        var model = new VideoMaskedAutoencoder(config);
        model.to(device);
        var optimizer = new AdamW(ParamGroups.WeightDecay(model.named_parameters(), a.WeightDecay), a.EffectiveLr, 0.9, 0.95);
        obs.Info?.Invoke($"video pretrain {a.Model} ({config.NumFrames}×{config.ImgSize}², stride {a.SamplingRate}) on {train.Count} " +
                         $"{a.DataSetName} clips, batch {a.BatchSize}, lr {a.EffectiveLr:G3}, tube mask {a.MaskRatio} " +
                         $"({config.TimeSlices * config.KeptPerSlice()} of {config.NumPatches} tokens visible){(a.Msd ? ", MSD decoder" : "")}, {a.Dtype}");
        return RecipeRun.Train(new RunPlan<VideoHostBatch>("video_pretrain", model, m => new VideoPretrainTask((VideoMaskedAutoencoder)m),
                                                           () => new VideoMaskedAutoencoder(config).to(device), optimizer, loader,
                                                           RecipeRun.EpochOptions(a), config.ToJson(), a), obs);
    }

    public static RunResult Finetune(VideoFinetuneArgs a, RunObserver? obs = null)
    {
        obs ??= new RunObserver();
        var device = RecipeRun.Prepare(a);
        var loader = VideoData.FinetuneLoader(a, obs);
        var train = loader.Source.Data;
        var valLoader = VideoData.EvalLoader(a, "val", multiView: false, obs);
        int classes = a.NbClasses > 0 ? a.NbClasses : train.NumClasses;
        var (model, configJson, makeCopy, depth) = BuildClassifier(a, classes, obs);
        model.to(device);
        var groups = ParamGroups.LayerDecay(model.named_parameters(), a.WeightDecay, a.LayerDecay, depth,
                                            prefix: model is FrameAveragedConvViT ? "image." : "");
        var optimizer = new AdamW(groups, a.EffectiveLr);
        obs.Info?.Invoke($"video finetune {(a.ImageBaseline ? "frame-averaged image " : "")}{a.Model} on {train.Count} {a.DataSetName} clips " +
                         $"({classes} classes), batch {a.BatchSize}, lr {a.EffectiveLr:G3}, layer decay {a.LayerDecay}, " +
                         $"mixup {a.Mixup}, cutmix {a.Cutmix}, flip {(a.FlipFrames ? "on" : "off")}, {a.Dtype}");
        IReadOnlyDictionary<string, double> Evaluate(int epoch) => VideoEvaluation.Evaluate(model, valLoader, train.ClassNames).Metrics;
        return RecipeRun.Train(new RunPlan<VideoHostBatch>(a.ImageBaseline ? VideoClassificationTask.BaselineKind : VideoClassificationTask.VideoKind,
                                   model, m => VideoClassificationTask.Create((nn.Module<Tensor, Tensor>)m, classes, a.Mixup, a.Cutmix, a.Smoothing, a.Reprob),
                                   () => makeCopy().to(device), optimizer, loader, RecipeRun.EpochOptions(a, a.ClipGrad), configJson, a)
                               { Evaluate = Evaluate }, obs);
    }

    /// <summary>The classifier of a finetuning run, started from --finetune (video checkpoint, or an image one inflated).</summary>
    static (nn.Module<Tensor, Tensor> Model, string ConfigJson, Func<nn.Module> MakeCopy, int Depth) BuildClassifier(VideoFinetuneArgs a, int classes, RunObserver obs)
    {
        manual_seed(a.Seed);
        if (a.ImageBaseline)
        {
            var image = ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with { NumClasses = classes, GlobalPool = true, DropPathRate = a.DropPath };
            var baseline = new FrameAveragedConvViT(image);
            if (!string.IsNullOrEmpty(a.Finetune))
                obs.Info?.Invoke($"image encoder from {a.Finetune}: {Checkpoints.LoadPretrained(baseline.Image, a.Finetune).Describe()}");
            else obs.Info?.Invoke("no --finetune checkpoint: the frame-averaged image classifier starts from random initialisation");
            return (baseline, image.ToJson(), () => new FrameAveragedConvViT(image), image.Depth[2]);
        }
        var config = (Config(a) with { NumClasses = classes, DropPathRate = a.DropPath }).Validate();
        var model = new VideoConvViT(config);
        if (!string.IsNullOrEmpty(a.Finetune))
            obs.Info?.Invoke($"loaded {a.Finetune}: {Inflation.LoadPretrained(model, a.Finetune).Describe()}");
        else obs.Info?.Invoke("no --finetune checkpoint: the video classifier starts from random initialisation");
        return (model, config.ToJson(), () => new VideoConvViT(config), config.Depth[2]);
    }

    /// <summary>A classifier from one of the kit's video finetuning checkpoints (video or frame-averaged baseline).</summary>
    public static nn.Module<Tensor, Tensor> LoadClassifier(string checkpoint)
    {
        using var ck = Checkpoints.Read(checkpoint);
        var meta = TrainingCheckpoint.Meta(ck);
        var kind = (string)meta["kind"]!;
        var json = (string)meta["config"]!;
        nn.Module<Tensor, Tensor> model = kind switch
        {
            VideoClassificationTask.VideoKind => new VideoConvViT(VideoConvMAEConfig.FromJson(json)),
            VideoClassificationTask.BaselineKind => new FrameAveragedConvViT(ConvViTConfig.FromJson(json)),
            _ => throw new CheckpointException(checkpoint, CheckpointError.KeyMismatch, $"a {kind} checkpoint is not a video classifier"),
        };
        Checkpoints.LoadInto(model, ck.StateDict, strict: true, sourceName: checkpoint);
        return model;
    }

    /// <summary>Multi-view test (--test_num_segment × --test_num_crop views per video, softmax averaged) of a checkpoint.</summary>
    public static VideoEvalResult Evaluate(VideoFinetuneArgs a, string checkpoint, RunObserver? obs = null, Action<int, int>? progress = null)
    {
        obs ??= new RunObserver();
        var device = RecipeRun.Prepare(a);
        var test = VideoData.EvalLoader(a, "test", multiView: true, obs);
        using var model = LoadClassifier(checkpoint);
        model.to(device);
        return VideoEvaluation.Evaluate(model, test, test.Source.Data.ClassNames, progress);
    }
}
