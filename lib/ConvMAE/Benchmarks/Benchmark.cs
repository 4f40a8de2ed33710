using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json.Serialization;
using ConvMAE.Data;
using ConvMAE.Modeling;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Benchmarks;

/// <summary>Settings of one benchmark run: the CLI's <c>bench MODE</c> flags.</summary>
public sealed record BenchArgs
{
    /// <summary>pretrain | finetune | infer | data | segment (the CLI takes it as the word after <c>bench</c>).</summary>
    [JsonIgnore] public string Mode { get; init; } = "pretrain";

    static readonly BenchArgs Defaults = new();
    /// <summary>The batch for a mode with its own default: the shared default (8) is read as "not given".</summary>
    public int BatchSizeOr(int modeDefault) => BatchSize == Defaults.BatchSize ? modeDefault : BatchSize;
    /// <summary>The input size for a mode with its own default: the shared default (224) is read as "not given".</summary>
    public int InputSizeOr(int modeDefault) => InputSize == Defaults.InputSize ? modeDefault : InputSize;
    [JsonPropertyName("model"), Description("model preset: convmae_base, convmae_small_cpu, convmae_tiny_cpu")]
    public string Model { get; init; } = "convmae_base";
    [JsonPropertyName("batch_size"), Description("images per step; segment and video take 2 and detect 1 when it is left at 8")]
    public int BatchSize { get; init; } = 8;
    [JsonPropertyName("threads"), Description("libtorch threads; data: loader workers (0: libtorch's default)")]
    public int Threads { get; init; } = 2;
    [JsonPropertyName("input_size")] public int InputSize { get; init; } = 224;
    [JsonPropertyName("dtype"), Description("fp32 or bf16")] public string Dtype { get; init; } = "fp32";
    [JsonPropertyName("steps"), Description("timed steps (batches for data)")] public int Steps { get; init; } = 5;
    [JsonPropertyName("warmup"), Description("untimed steps first")] public int Warmup { get; init; } = 2;
    [JsonPropertyName("mask_ratio")] public double MaskRatio { get; init; } = 0.75;
    [JsonPropertyName("sparse_stages"), Description("pretrain, video: stages 1-2 on the visible blocks only (--no_sparse_stages: the official dense form; video: every position)")]
    public bool SparseStages { get; init; } = true;
    [JsonPropertyName("channels_last_stages"), Description("finetune, infer, segment, detect, video: stages 1-2 on channels-last maps (--no_channels_last_stages: the official NCHW form; video: NCDHW Conv3d)")]
    public bool ChannelsLastStages { get; init; } = true;
    [JsonPropertyName("profile"), Description("pretrain, finetune: also time each part of the model, forward and backward, and the optimizer step, each on its own (PretrainProfile, FinetuneProfile)")]
    public bool Profile { get; init; }
    [JsonPropertyName("data_path"), Description("data: an ImageNet-layout folder (train/ is read) or a folder of class folders")]
    public string DataPath { get; init; } = "data/demo";
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("infer_height"), Description("segment: height of the image slide inference is timed on")]
    public int InferHeight { get; init; } = 512;
    [JsonPropertyName("infer_width"), Description("segment: width of that image (512×2048: 6 windows of 512 at stride 341)")]
    public int InferWidth { get; init; } = 2048;
}

/// <summary>One benchmark's measurements, printed as one JSON line.</summary>
public sealed record BenchResult
{
    [JsonPropertyName("impl")] public string Impl { get; init; } = "convmae-notebooks";
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("dtype")] public required string Dtype { get; init; }
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; }
    [JsonPropertyName("input_size")] public int InputSize { get; init; }
    [JsonPropertyName("threads")] public int Threads { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; }
    /// <summary>Images per second at the median step time.</summary>
    [JsonPropertyName("img_per_s")] public double ImgPerS { get; init; }
    [JsonPropertyName("step_ms")] public required StepTimes StepMs { get; init; }
    /// <summary>pretrain only: the same model and masking, forward only, without gradients.</summary>
    [JsonPropertyName("fwd_img_per_s")] public double? FwdImgPerS { get; init; }
    /// <summary>Peak resident memory of the process (VmHWM).</summary>
    [JsonPropertyName("peak_rss_mb")] public double PeakRssMb { get; init; }
    /// <summary>Analytic FLOPs per image of what a step does (ModelSummary; training = 3 × forward).</summary>
    [JsonPropertyName("gflop_per_img")] public double? GflopPerImg { get; init; }
    [JsonPropertyName("achieved_gflops")] public double? AchievedGflops { get; init; }
    /// <summary>Measured fp32 matrix product (2048³) at the same thread count: the machine's practical ceiling.</summary>
    [JsonPropertyName("gemm_gflops")] public double GemmGflops { get; init; }
    [JsonPropertyName("torch")] public string Torch { get; init; } = "";
    /// <summary>The processor (<see cref="CpuFeatures.Describe"/>): every speed figure goes with it.</summary>
    [JsonPropertyName("cpu")] public string Cpu { get; init; } = "";
    /// <summary>The allocator settings the process ran under (<see cref="HeapReuse.Describe"/>): large-tensor work and
    /// peak memory depend on them.</summary>
    [JsonPropertyName("malloc")] public string Malloc { get; init; } = "";
    /// <summary>How MKL chose its fp32 kernels (<see cref="MklDispatch.Describe"/>): on AMD with AVX-512 it decides
    /// gemm_gflops and the fp32 steps.</summary>
    [JsonPropertyName("mkl_kernels")] public string MklKernels { get; init; } = "";
    /// <summary>infer: images per chunk of the classifier's forward (<see cref="ConvViT.InferenceChunkFor"/>; 0: the
    /// whole batch at once, as the official forward).</summary>
    [JsonPropertyName("inference_chunk")] public int? InferenceChunk { get; init; }
    /// <summary>data: megabytes of decoded images the loader kept after their first epoch (<see cref="DecodedImageCache"/>;
    /// 0: decoded every time, as the official loader does, or <c>CONVMAE_DECODED_CACHE_MB=0</c>).</summary>
    [JsonPropertyName("decoded_cache_mb")] public double? DecodedCacheMb { get; init; }
    /// <summary>segment: milliseconds of one slide inference (min/median/max) on an infer_height×infer_width image.</summary>
    [JsonPropertyName("slide_infer_ms")] public StepTimes? SlideInferMs { get; init; }
    [JsonPropertyName("slide_windows")] public int? SlideWindows { get; init; }
    /// <summary>detect: inference of one image (detector + post-processing), its counted GFLOP and achieved GFLOP/s.</summary>
    [JsonPropertyName("infer_ms")] public StepTimes? InferMs { get; init; }
    [JsonPropertyName("infer_gflop")] public double? InferGflop { get; init; }
    [JsonPropertyName("infer_achieved_gflops")] public double? InferAchievedGflops { get; init; }
    /// <summary>video: the finetuning step (step_ms is the pretraining step), the views of the multi-view inference
    /// (infer_ms), and each phase's own peak resident memory (VmHWM reset before it).</summary>
    [JsonPropertyName("finetune_step_ms")] public StepTimes? FinetuneStepMs { get; init; }
    [JsonPropertyName("views")] public int? Views { get; init; }
    [JsonPropertyName("num_frames")] public int? NumFrames { get; init; }
    [JsonPropertyName("peak_rss_pretrain_mb")] public double? PeakRssPretrainMb { get; init; }
    [JsonPropertyName("peak_rss_finetune_mb")] public double? PeakRssFinetuneMb { get; init; }
    [JsonPropertyName("peak_rss_infer_mb")] public double? PeakRssInferMb { get; init; }
    /// <summary>pretrain/finetune --profile: each part's forward and backward on its own, in model order.</summary>
    [JsonPropertyName("profile")] public IReadOnlyList<PartTime>? Profile { get; init; }
}

public sealed record StepTimes([property: JsonPropertyName("min")] double Min, [property: JsonPropertyName("median")] double Median,
                               [property: JsonPropertyName("max")] double Max)
{
    public static StepTimes Of(IReadOnlyList<double> ms)
    {
        var s = ms.Order().ToArray();
        double median = s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        return new StepTimes(Math.Round(s[0], 1), Math.Round(median, 1), Math.Round(s[^1], 1));
    }
}

/// <summary>
/// Times the kit's own training and inference steps (the trainer's <see cref="TrainStep"/>, with its task, optimizer
/// and guards)
/// on synthetic inputs, after a warm-up, and reports images/s, step times, memory and FLOP efficiency.
/// </summary>
public static class Benchmark
{
    public static BenchResult Run(BenchArgs a, Action<string>? progress = null)
    {
        if (a.Steps < 1) throw new ArgumentException("--steps must be at least 1");
        if (a.Dtype is not ("fp32" or "bf16")) throw new ArgumentException($"--dtype {a.Dtype}: expected fp32 or bf16");
        NativeTorch.EnsureLoaded();
        if (a.Threads > 0) set_num_threads(a.Threads);
        double gemm = GemmGflops();
        progress?.Invoke($"fp32 GEMM 2048³ at {get_num_threads()} threads: {gemm:F0} GFLOP/s on {CpuFeatures.Current.Describe()}");
        var malloc = HeapReuse.Describe();
        var mklKernels = MklDispatch.Describe();
        progress?.Invoke($"memory: {malloc}; MKL kernels: {mklKernels}");
        if (a.Dtype == "bf16" && CpuFeatures.Current.Bf16Warning() is { } slow) progress?.Invoke("warning: " + slow);
        var r = a.Mode switch
        {
            "pretrain" => Pretrain(a, progress),
            "finetune" => Finetune(a, progress),
            "infer" => Infer(a, progress),
            "data" => Data(a, progress),
            "segment" => Segment(a, progress),
            "detect" => DetectBench.Run(a, progress),
            "video" => VideoBench.Run(a, progress),
            _ => throw new ArgumentException($"bench mode '{a.Mode}': expected pretrain, finetune, infer, data, segment, detect or video"),
        };
        return r with { GemmGflops = Math.Round(gemm, 1), PeakRssMb = Math.Round(PeakRssMb(), 1), Torch = torch.__version__, Cpu = CpuFeatures.Current.Describe(),
                     Malloc = malloc, MklKernels = mklKernels };
    }

    static BenchResult Pretrain(BenchArgs a, Action<string>? progress)
    {
        var config = (ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with { MaskRatio = a.MaskRatio, SparseStages = a.SparseStages }).ValidatePretrain();
        manual_seed(a.Seed);
        using var model = new MaskedAutoencoderConvViT(config);
        using var optimizer = new AdamW(ParamGroups.WeightDecay(model.named_parameters(), 0.05), 1.5e-4, 0.9, 0.95);
        MaskedAutoencoderConvViT? compute = null;
        var task = MixedPrecision<HostBatch>.Apply(a.Dtype, model, m => new PretrainTask(compute = (MaskedAutoencoderConvViT)m),
                                                   () => new MaskedAutoencoderConvViT(config));
        try
        {
            var batch = SyntheticBatch(a, config.NumClasses);
            var times = TimeSteps(a, progress, "train", () => Step(task, optimizer, batch));
            IReadOnlyList<PartTime>? profile = null;
            if (a.Profile)
                using (NewDisposeScope())
                    profile = [.. PretrainProfile.Run(compute!, Batch.FromHost(batch).Images, a.Steps, progress),   // --steps ≥ 1, checked above
                               PretrainProfile.Optimizer(optimizer, a, progress)];
            // Forward only, without gradients: the compute model as the last step left it (weights current).
            model.eval();
            compute!.eval();
            var fwd = TimeSteps(a, progress, "forward", () =>
            {
                using var _ = no_grad();
                var images = Batch.FromHost(batch).Images;
                using var output = compute.forward(images);
                output.Loss.item<float>();
            });
            var summary = ModelSummary.Of(config, ModelKind.Pretrain);
            return Result(a, times, summary.ForwardGFlops * ModelSummary.TrainingFlopsFactor) with
            {
                FwdImgPerS = Math.Round(a.BatchSize / (StepTimes.Of(fwd).Median / 1000), 3),
                Profile = profile,
            };
        }
        finally { (task as IDisposable)?.Dispose(); }
    }

    static BenchResult Finetune(BenchArgs a, Action<string>? progress)
    {
        var config = ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with { DropPathRate = 0.1, ChannelsLastStages = a.ChannelsLastStages };
        manual_seed(a.Seed);
        using var model = new ConvViT(config);
        using var optimizer = new AdamW(ParamGroups.LayerDecay(model.named_parameters(), 0.05, 0.75, config.Depth[2]), 1e-3);
        ConvViT? compute = null;
        var task = MixedPrecision<HostBatch>.Apply(a.Dtype, model,
            m => new ClassificationTask("finetune", compute = (ConvViT)m, (logits, y) => Losses.LabelSmoothingCrossEntropy(logits, y, 0.1)),
            () => new ConvViT(config));
        try
        {
            var batch = SyntheticBatch(a, config.NumClasses);
            var times = TimeSteps(a, progress, "train", () => Step(task, optimizer, batch));
            IReadOnlyList<PartTime>? profile = null;
            if (a.Profile)
                using (NewDisposeScope())
                    profile = [.. FinetuneProfile.Run(compute!, Batch.FromHost(batch).Images, a.Steps, progress),
                               PretrainProfile.Optimizer(optimizer, a, progress)];
            return Result(a, times, ModelSummary.Of(config, ModelKind.Classifier).ForwardGFlops * ModelSummary.TrainingFlopsFactor)
                   with { Profile = profile };
        }
        finally { (task as IDisposable)?.Dispose(); }
    }

    static BenchResult Infer(BenchArgs a, Action<string>? progress)
    {
        var config = ConvViTConfig.Preset(a.Model).WithInputSize(a.InputSize) with { ChannelsLastStages = a.ChannelsLastStages };
        manual_seed(a.Seed);
        using var model = new ConvViT(config);
        model.eval();
        using var compute = a.Dtype == "bf16" ? new ConvViT(config) : null;
        if (compute is not null)
        {
            compute.load_state_dict(model.state_dict());
            compute.to(bfloat16).eval();
        }
        var run = compute ?? model;
        var batch = SyntheticBatch(a, config.NumClasses);
        int chunk;
        using (no_grad()) using (NewDisposeScope()) chunk = run.InferenceChunkFor(Batch.FromHost(batch).Images);
        progress?.Invoke(chunk == 0 ? "forward on the whole batch" : $"forward in chunks of {chunk} images (ConvViT.InferenceChunkFor)");
        var times = TimeSteps(a, progress, "infer", () =>
        {
            using var _ = no_grad();
            var images = Batch.FromHost(batch).Images;
            using var logits = run.forward(images);
            logits.sum().item<float>();
        });
        return Result(a, times, ModelSummary.Of(config, ModelKind.Classifier).ForwardGFlops) with { InferenceChunk = chunk };
    }

    /// <summary>UperNet on ConvMAE (default ConvMAE-B, 150 classes): a training step at --batch_size on
    /// input_size² crops, then slide inference on one infer_height×infer_width image, the model's own code.</summary>
    static BenchResult Segment(BenchArgs a, Action<string>? progress)
    {
        var model = a.Model is "convmae_base" ? "upernet_convmae_base" : a.Model;
        a = a with { BatchSize = a.BatchSizeOr(2) };   // the official per-GPU batch
        int size = a.InputSizeOr(512);
        var config = Segmentation.SegmenterConfig.Preset(model, 150);
        config = config with { Backbone = config.Backbone.WithInputSize(size) with { ChannelsLastStages = a.ChannelsLastStages }, CropSize = size, Stride = (int)Math.Round(size * 341.0 / 512) };
        manual_seed(a.Seed);
        using var net = new Segmentation.UperNetSegmenter(config);
        using var optimizer = new AdamW(ParamGroups.SegmentationLayerDecay(net.named_parameters(), 0.05, 0.75, config.Backbone.Depth[2]), 1e-4, 0.9, 0.999);
        var task = MixedPrecision<Data.Segmentation.SegHostBatch>.Apply(a.Dtype, net, m => new Segmentation.SegmentationTask((Segmentation.UperNetSegmenter)m),
                                                                        () => new Segmentation.UperNetSegmenter(config));
        try
        {
            var rng = new Random(a.Seed);
            int s = size;                                                            // segmentation's default crop is 512, not 224
            var pixels = new byte[a.BatchSize * s * s * 3];
            rng.NextBytes(pixels);
            var labels = Enumerable.Range(0, a.BatchSize * s * s).Select(_ => (byte)(rng.Next(10) == 0 ? 255 : rng.Next(150))).ToArray();
            var batch = new Data.Segmentation.SegHostBatch(0, 0, s, pixels, labels, Enumerable.Repeat(s, a.BatchSize).ToArray(),
                                                           Enumerable.Repeat(s, a.BatchSize).ToArray(), new string[a.BatchSize]);
            var times = TimeSteps(a, progress, "train", () => TrainStep.Run(task, optimizer, batch, CPU, new Random(0), 1, true, null,
                                                                            value => $"bench: loss is {value}"));
            // Slide inference with the model that computes (bf16: the compute copy, weights current after the steps).
            var compute = (task as MixedPrecision<Data.Segmentation.SegHostBatch>)?.Compute as Segmentation.UperNetSegmenter ?? net;
            compute.eval();
            var image = randn(1, 3, a.InferHeight, a.InferWidth);
            var infer = TimeSteps(a with { Warmup = Math.Min(a.Warmup, 1) }, progress, "slide inference", () =>
            {
                using var _ = no_grad();
                Segmentation.SlidingWindow.Slide(image, x => compute.call(x), config.NumClasses, config.CropSize, config.Stride).argmax(1).sum().item<long>();
            });
            return Result(a with { InputSize = size }, times, null) with
            {
                Model = model, SlideInferMs = StepTimes.Of(infer),
                SlideWindows = Segmentation.SlidingWindow.Windows(a.InferHeight, a.InferWidth, config.CropSize, config.Stride).Count,
            };
        }
        finally { (task as IDisposable)?.Dispose(); }
    }

    /// <summary>The loader as training uses it: decode (or, after the first epoch, the kept decoded image),
    /// RandomResizedCrop + flip (PretrainTransform), normalise.</summary>
    static BenchResult Data(BenchArgs a, Action<string>? progress)
    {
        var folder = Directory.Exists(Path.Combine(a.DataPath, "train")) ? ImageFolder.OpenSplit(a.DataPath, "train") : ImageFolder.Open(a.DataPath);
        int workers = Math.Max(1, a.Threads);
        var loader = new ImageLoader(folder, new PretrainTransform(a.InputSize),
                                     new LoaderOptions(a.BatchSize, Shuffle: true, DropLast: true, a.Seed, Workers: workers));
        var times = new List<double>();
        // Warm up for at least one epoch: decoding and resizing are managed code, and the JIT needs a few hundred
        // images to reach its optimised tier (the first batches run 2-3× slower).
        int warmup = Math.Max(a.Warmup, loader.BatchesPerEpoch);
        int epoch = 0, seen = 0, needed = warmup + a.Steps;
        while (seen < needed)
        {
            var clock = Stopwatch.StartNew();
            foreach (var host in loader.Epoch(epoch++))
            {
                using (var batch = Batch.FromHost(host)) { }
                if (seen++ >= warmup) times.Add(clock.Elapsed.TotalMilliseconds);
                if (seen >= needed) break;
                clock.Restart();
            }
        }
        double keptMb = Math.Round((loader.Cache?.UsedBytes ?? 0) / 1048576.0, 1);
        progress?.Invoke($"data: {times.Count} batches of {a.BatchSize} from {folder.Count} images with {workers} worker(s), " +
                         (loader.Cache is null ? "decoded every time" : $"decoded images kept after their first epoch ({keptMb} MB)"));
        return Result(a, times, null) with { DecodedCacheMb = keptMb };
    }

    /// <summary>One training step: the trainer's own <see cref="TrainStep"/> (losses, backward, optimizer step).</summary>
    static void Step(ITrainingTask<HostBatch> task, IOptimizer optimizer, HostBatch batch) =>
        TrainStep.Run(task, optimizer, batch, CPU, new Random(0), accumIter: 1, update: true, clipGrad: null,
                      value => $"bench: loss is {value}");

    /// <summary>Random pixels and labels, as the loader would hand them over (uint8 NHWC).</summary>
    static HostBatch SyntheticBatch(BenchArgs a, int classes)
    {
        var rng = new Random(a.Seed);
        var pixels = new byte[a.BatchSize * a.InputSize * a.InputSize * 3];
        rng.NextBytes(pixels);
        var labels = Enumerable.Range(0, a.BatchSize).Select(_ => (long)rng.Next(Math.Max(1, classes))).ToArray();
        return new HostBatch(0, 0, pixels, a.BatchSize, a.InputSize, labels, new int[a.BatchSize]);
    }

    /// <summary>Runs warm-up then timed steps, each in its own dispose scope and GC guard (as the trainer does).</summary>
    /// <summary>Warm-up then timed runs of <paramref name="step"/>, each in a dispose scope inside the native-call guard.</summary>
    internal static List<double> TimeSteps(BenchArgs a, Action<string>? progress, string what, Action step)
    {
        var times = new List<double>();
        for (int i = 0; i < a.Warmup + a.Steps; i++)
        {
            var clock = Stopwatch.StartNew();
            using (NativeCallGuard.Enter())
            using (NewDisposeScope())
                step();
            double ms = clock.Elapsed.TotalMilliseconds;
            if (i >= a.Warmup) times.Add(ms);
            progress?.Invoke($"{what} step {i + 1}/{a.Warmup + a.Steps}{(i < a.Warmup ? " (warm-up)" : "")}: {ms:F0} ms");
        }
        return times;
    }

    static BenchResult Result(BenchArgs a, List<double> ms, double? gflopPerImg)
    {
        var t = StepTimes.Of(ms);
        double ips = a.BatchSize / (t.Median / 1000);
        return new BenchResult
        {
            Mode = a.Mode, Model = a.Mode == "data" ? "" : a.Model, Dtype = a.Dtype, BatchSize = a.BatchSize, InputSize = a.InputSize,
            Threads = get_num_threads(), Steps = ms.Count, ImgPerS = Math.Round(ips, 3), StepMs = t,
            GflopPerImg = gflopPerImg is { } g ? Math.Round(g, 4) : null,
            AchievedGflops = gflopPerImg is { } f ? Math.Round(f * ips, 1) : null,
        };
    }

    /// <summary>Best of five 2048³ fp32 matrix products, in GFLOP/s (2·n³ FLOPs each).</summary>
    public static double GemmGflops(int n = 2048, int reps = 5)
    {
        using var scope = NewDisposeScope();
        var x = randn(n, n);
        var y = randn(n, n);
        x.matmul(y).Dispose();
        double best = double.MaxValue;
        for (int i = 0; i < reps; i++)
        {
            var clock = Stopwatch.StartNew();
            x.matmul(y).Dispose();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * (double)n / best / 1e9;
    }

    /// <summary>Resets the peak resident set (VmHWM) to the current one (Linux: "5" to /proc/self/clear_refs), so the
    /// next <see cref="PeakRssMb"/> is the peak of what ran since; false where the kernel does not allow it.</summary>
    public static bool ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Peak resident set of this process in MiB (Linux VmHWM); NaN where /proc is missing.</summary>
    public static double PeakRssMb()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return double.NaN;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        // "VmHWM:\t  123456 kB": the field separator is a tab, and the padding spaces vanish from 8 digits (10 GB) on.
        return line is null ? double.NaN : long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
    }
}
