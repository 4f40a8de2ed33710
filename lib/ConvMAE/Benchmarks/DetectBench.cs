using ConvMAE.Data.Coco;
using ConvMAE.Detection;
using ConvMAE.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Benchmarks;

/// <summary>
/// bench detect: ConvViTDet + Mask R-CNN on one square image (1024 for the official model): a training step at the
/// given batch on a synthetic image with ten boxes and masks, and inference (detector + LSJ post-processing with mask
/// pasting of the full 100 detections) of one image. FLOPs are counted, not estimated from a formula: every convolution, transposed convolution
/// and linear layer reports its multiply-adds from the shapes it actually ran on, and the attention products
/// (q·kᵀ and attn·v, not modules) are added from the backbone's window layout. Training counts 3 × its forward.
/// </summary>
public static class DetectBench
{
    public static BenchResult Run(BenchArgs a, Action<string>? progress)
    {
        var name = a.Model is "convmae_base" ? "mask_rcnn_convmae_base" : a.Model;
        a = a with { BatchSize = a.BatchSizeOr(1) };   // 8 images of 1024² need over 24 GB
        var config = MaskRcnnConfig.Preset(name, 80);
        int size = a.InputSizeOr(config.ImageSize);
        if (size != config.ImageSize) config = config.WithInputSize(size);
        // An untrained model scores every class near 1/81 < 0.05 and would detect nothing, leaving the mask head and
        // the pasting out of the inference time; with the threshold at 0 it returns the full 100, as a trained one does.
        config = config with { TestScoreThresh = 0, Backbone = config.Backbone with { ChannelsLastStages = a.ChannelsLastStages } };
        manual_seed(a.Seed);
        using var model = new MaskRcnn(config);
        using var optimizer = new Training.AdamW(ParamGroups.DetectionWeightDecay(model, 0.1), 8e-5, 0.9, 0.999);
        var task = MixedPrecision<DetHostBatch>.Apply(a.Dtype, model, m => new DetectionTask((MaskRcnn)m), () => new MaskRcnn(config));
        try
        {
            var rng = new Random(a.Seed);
            var batch = new DetHostBatch(0, 0, Enumerable.Range(0, a.BatchSize).Select(_ => Synthetic(size, rng)).ToList());
            var compute = (task as MixedPrecision<DetHostBatch>)?.Compute as MaskRcnn ?? model;
            double trainFlops = 0;
            var times = Benchmark.TimeSteps(a, progress, "train", () =>
            {
                using var counter = new FlopCounter(compute);
                TrainStep.Run(task, optimizer, batch, CPU, new Random(0), 1, true, null, value => $"bench: loss is {value}");
                trainFlops = 3 * counter.Total;
            });
            compute.eval();
            var image = new DetHostBatch(0, 0, [batch.Samples[0]]);
            double inferFlops = 0;
            int detections = 0;
            var infer = Benchmark.TimeSteps(a with { Warmup = Math.Min(a.Warmup, 1) }, progress, "inference", () =>
            {
                using var counter = new FlopCounter(compute);
                var d = compute.Detect(image.Images(CPU))[0];
                detections = compute.Postprocess(d, size, size).Scores.Length;
                inferFlops = counter.Total;
            });
            var t = StepTimes.Of(times);
            var ti = StepTimes.Of(infer);
            double ips = a.BatchSize / (t.Median / 1000);
            progress?.Invoke($"inference: {detections} detections, {inferFlops / 1e9:F0} GFLOP; training step {trainFlops / 1e9:F0} GFLOP");
            return new BenchResult
            {
                Mode = "detect", Model = name, Dtype = a.Dtype, BatchSize = a.BatchSize, InputSize = size, Threads = get_num_threads(),
                Steps = times.Count, ImgPerS = Math.Round(ips, 3), StepMs = t,
                GflopPerImg = Math.Round(trainFlops / a.BatchSize / 1e9, 2), AchievedGflops = Math.Round(trainFlops / (t.Median / 1000) / 1e9, 1),
                InferMs = ti, InferGflop = Math.Round(inferFlops / 1e9, 2), InferAchievedGflops = Math.Round(inferFlops / (ti.Median / 1000) / 1e9, 1),
            };
        }
        finally { (task as IDisposable)?.Dispose(); }
    }

    /// <summary>A noisy image with ten rectangles of random size and class, as targets (boxes are the masks' bounds).</summary>
    static DetSample Synthetic(int s, Random rng)
    {
        var pixels = new byte[s * s * 3];
        rng.NextBytes(pixels);
        const int n = 10;
        var boxes = new float[n * 4]; var classes = new long[n]; var masks = new byte[n * s * s];
        for (int i = 0; i < n; i++)
        {
            int w = rng.Next(s / 32, s / 3), h = rng.Next(s / 32, s / 3), x = rng.Next(0, s - w), y = rng.Next(0, s - h);
            boxes[4 * i] = x; boxes[4 * i + 1] = y; boxes[4 * i + 2] = x + w; boxes[4 * i + 3] = y + h;
            classes[i] = rng.Next(80);
            for (int yy = y; yy < y + h; yy++) Array.Fill(masks, (byte)1, i * s * s + yy * s + x, w);
        }
        return new DetSample(pixels, s, boxes, classes, masks, 0, s, s, 1.0, "synthetic");
    }

    /// <summary>Counts 2 × multiply-adds of every convolution and linear layer of a module as it runs, plus the
    /// backbone's attention products.</summary>
    sealed class FlopCounter : IDisposable
    {
        readonly List<Action> removers = [];
        public double Total { get; private set; }

        public FlopCounter(MaskRcnn model)
        {
            foreach (var (_, m) in model.named_modules())
                switch (m)
                {
                    case Conv2d c:
                        { var h = c.register_forward_hook((_, _, y) => { Total += 2.0 * y.numel() * c.weight!.shape[1] * c.weight.shape[2] * c.weight.shape[3]; return y; }); removers.Add(h.remove); }
                        break;
                    case ConvTranspose2d d:
                        { var h = d.register_forward_hook((_, x, y) => { Total += 2.0 * x.numel() * d.weight!.shape[1] * d.weight.shape[2] * d.weight.shape[3]; return y; }); removers.Add(h.remove); }
                        break;
                    case Linear l:
                        { var h = l.register_forward_hook((_, x, y) => { Total += 2.0 * y.numel() * l.weight!.shape[1]; return y; }); removers.Add(h.remove); }
                        break;
                    case D2Conv c:
                        { var h = c.register_forward_hook((_, _, y) => { Total += 2.0 * y.numel() * c.Weight.shape[1] * c.Weight.shape[2] * c.Weight.shape[3]; return y; }); removers.Add(h.remove); }
                        break;
                    case ConvViTDet b:
                        { var h = b.register_forward_hook((_, x, y) => { Total += AttentionFlops(b.Config, x.shape[0]) + ChannelsLastStageFlops(b.Config, x.shape[0]); return y; }); removers.Add(h.remove); }
                        break;
                }
        }

        /// <summary>q·kᵀ and attn·v: 2 × 2·N·M·D per block, N tokens attending to M (the whole grid, or a window).</summary>
        static double AttentionFlops(DetBackboneConfig c, long batch)
        {
            double n = (double)c.Grid * c.Grid, win = (double)c.WindowSize * c.WindowSize, d = c.EmbedDim[2];
            int global = c.GlobalBlocks.Length, windowed = c.Depth[2] - global;
            return batch * (global * 4 * n * n * d + windowed * 4 * n * win * d);
        }

        /// <summary>The channels-last stages 1-2 (<see cref="Modeling.ConvStages"/>) run their 1×1, depthwise and
        /// embedding convolutions as matrix products on the weights, not through the Conv2d modules the hooks count, so
        /// their multiply-adds are added here from the shapes: the same numbers the NCHW form's hooks give.</summary>
        static double ChannelsLastStageFlops(DetBackboneConfig c, long batch)
        {
            if (!c.ChannelsLastStages) return 0;
            double Positions(int side) => (double)side * side;
            double Block(int e, double ratio) => 2.0 * e * e + 25.0 * e + 2.0 * e * (int)(e * ratio);   // conv1, conv2, 5×5 depthwise, MLP
            double Embed(int cin, int cout, int p) => (double)cin * cout * p * p;
            double macs = Positions(c.ImgSize[1]) * (Embed(c.InChans, c.EmbedDim[0], c.PatchSize[0]) + c.Depth[0] * Block(c.EmbedDim[0], c.MlpRatio[0]))
                        + Positions(c.ImgSize[2]) * (Embed(c.EmbedDim[0], c.EmbedDim[1], c.PatchSize[1]) + c.Depth[1] * Block(c.EmbedDim[1], c.MlpRatio[1]))
                        + Positions(c.Grid) * Embed(c.EmbedDim[1], c.EmbedDim[2], c.PatchSize[2]);
            return 2 * batch * macs;
        }

        public void Dispose() { foreach (var r in removers) r(); }
    }
}
