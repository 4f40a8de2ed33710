using ConvMAE.Data.Video;
using ConvMAE.Training;
using ConvMAE.Video;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Benchmarks;

/// <summary>
/// bench video: VideoConvMAE at 16×224² (the base preset unless --model names another): a pretraining step (tube masking
/// at --mask_ratio, default 0.9 for video) and a finetuning step (mixup/cutmix, per-frame erasing, 400 classes) at batch
/// 2 unless --batch_size is given, then the multi-view inference of one clip (Kinetics: 5 clips × 3 crops = 15 views,
/// softmax averaged), each through the trainer's own step code, with each phase's peak resident memory.
/// </summary>
public static class VideoBench
{
    public static BenchResult Run(BenchArgs a, Action<string>? progress)
    {
        var defaults = new BenchArgs();
        var name = a.Model == defaults.Model ? "videoconvmae_base" : a.Model;
        var config = VideoConvMAEConfig.Preset(name);
        config = config with { ImgSize = a.InputSizeOr(config.ImgSize) };
        config = config with { MaskRatio = a.MaskRatio == defaults.MaskRatio ? 0.9 : a.MaskRatio, ChannelsLastStages = a.ChannelsLastStages, SparseStages = a.SparseStages };
        config.Validate();
        int batch = a.BatchSizeOr(2);
        const int views = 15;
        var host = Synthetic(batch, config, a.Seed);
        progress?.Invoke($"video bench: {name}, {config.NumFrames}×{config.ImgSize}², batch {batch}, {a.Dtype}, {config.NumPatches} tokens " +
                         $"({config.TimeSlices * config.KeptPerSlice()} visible in pretraining)");

        // 1. Pretraining step.
        Benchmark.ResetPeakRss();
        List<double> pretrain;
        manual_seed(a.Seed);
        using (var model = new VideoMaskedAutoencoder(config))
        using (var optimizer = new AdamW(ParamGroups.WeightDecay(model.named_parameters(), 0.05), 1.5e-4, 0.9, 0.95))
        {
            var task = MixedPrecision<VideoHostBatch>.Apply(a.Dtype, model, m => new VideoPretrainTask((VideoMaskedAutoencoder)m),
                                                            () => new VideoMaskedAutoencoder(config));
            try { pretrain = Benchmark.TimeSteps(a, progress, "pretrain", () => Step(task, optimizer, host)); }
            finally { (task as IDisposable)?.Dispose(); }
        }
        double peakPretrain = Benchmark.PeakRssMb();
        GC.Collect();

        // 2. Finetuning step, and 3. multi-view inference of one clip with the model it trained.
        Benchmark.ResetPeakRss();
        List<double> finetune, infer;
        double peakFinetune, peakInfer;
        manual_seed(a.Seed);
        using (var model = new VideoConvViT(config))
        using (var optimizer = new AdamW(ParamGroups.LayerDecay(model.named_parameters(), 0.05, 0.75, config.Depth[2]), 1e-3))
        {
            VideoConvViT? compute = null;
            var task = MixedPrecision<VideoHostBatch>.Apply(a.Dtype, model,
                m => VideoClassificationTask.Create((VideoConvViT)(compute = (VideoConvViT)m), config.NumClasses, 0.8, 1.0, 0.1, 0.25),
                () => new VideoConvViT(config));
            try
            {
                finetune = Benchmark.TimeSteps(a, progress, "finetune", () => Step(task, optimizer, host));
                peakFinetune = Benchmark.PeakRssMb();
                Benchmark.ResetPeakRss();
                compute!.eval();
                var one = Synthetic(1, config, a.Seed + 1);
                var clip = one with { Views = views, Pixels = Repeat(one.Pixels, views) };
                infer = Benchmark.TimeSteps(a with { Warmup = Math.Min(a.Warmup, 1) }, progress, $"inference ({views} views)", () =>
                {
                    using var _ = no_grad();
                    var clips = VideoBatch.FromHost(clip, CPU).Clips;                  // [15,3,T,S,S]
                    compute.call(clips).to(float32).softmax(-1).mean([0]).argmax().item<long>();
                });
                peakInfer = Benchmark.PeakRssMb();
            }
            finally { (task as IDisposable)?.Dispose(); }
        }
        var t = StepTimes.Of(pretrain);
        return new BenchResult
        {
            Mode = "video", Model = name, Dtype = a.Dtype, BatchSize = batch, InputSize = config.ImgSize, NumFrames = config.NumFrames,
            Threads = get_num_threads(), Steps = pretrain.Count, ImgPerS = Math.Round(batch / (t.Median / 1000), 3), StepMs = t,
            FinetuneStepMs = StepTimes.Of(finetune), InferMs = StepTimes.Of(infer), Views = views,
            PeakRssPretrainMb = Math.Round(peakPretrain, 1), PeakRssFinetuneMb = Math.Round(peakFinetune, 1), PeakRssInferMb = Math.Round(peakInfer, 1),
        };
    }

    static void Step(ITrainingTask<VideoHostBatch> task, IOptimizer optimizer, VideoHostBatch batch) =>
        TrainStep.Run(task, optimizer, batch, CPU, new Random(0), 1, true, null, value => $"bench: loss is {value}");

    /// <summary>Random uint8 clips with distinct labels: the model's cost does not depend on the content.</summary>
    static VideoHostBatch Synthetic(int count, VideoConvMAEConfig c, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[(long)count * c.NumFrames * c.ImgSize * c.ImgSize * 3];
        rng.NextBytes(pixels);
        return new VideoHostBatch(0, 0, pixels, count, 1, c.NumFrames, c.ImgSize,
                                  Enumerable.Range(0, count).Select(i => (long)(i % c.NumClasses)).ToArray(), Enumerable.Range(0, count).ToArray());
    }

    static byte[] Repeat(byte[] one, int times)
    {
        var all = new byte[one.LongLength * times];
        for (int i = 0; i < times; i++) Buffer.BlockCopy(one, 0, all, i * one.Length, one.Length);
        return all;
    }
}
