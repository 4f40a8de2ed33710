using System.Text.Json;
using ConvMAE.Benchmarks;
using ConvMAE.DataPrep;
using ConvMAE.Env;
using ConvMAE.Modeling;
using Xunit;

namespace ConvMAE.Tests.Training;

/// <summary>The bench command's output (never its speed: timings belong to the benchmark, not to tests).</summary>
[Trait("Category", "Integration")]
public class BenchmarkTests
{
    static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli");

    static JsonElement Bench(params string[] args) => BenchWithProgress(args).Json;

    static (JsonElement Json, string Stderr) BenchWithProgress(params string[] args)
    {
        var r = Proc.Run(Cli, ["bench", .. args], timeout: TimeSpan.FromMinutes(5));
        Assert.True(r.ExitCode == 0, r.Combined);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);                                         // one JSON line on stdout, progress on stderr
        return (JsonDocument.Parse(lines[0]).RootElement, r.Stderr);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Pretrain_profile_lists_every_part_in_model_order_in_both_forms(bool sparse)
    {
        string[] args = ["pretrain", "--model", "convmae_tiny_cpu", "--input_size", "64", "--batch_size", "4", "--steps", "1",
                         "--warmup", "0", "--threads", "1", "--profile"];
        var j = Bench(sparse ? args : [.. args, "--no_sparse_stages"]);
        // The tiny preset has depths [1,1,2] and one decoder block (ConvViTConfig.ConvMAETinyCpu).
        string[] expected = ["patch_embed1", "blocks1.0", "stage1_output_decode", "patch_embed2", "blocks2.0", "stage2_output_decode",
                             "patch_embed3,patch_embed4", "blocks3,norm", "decoder,loss", "optimizer"];
        var parts = j.GetProperty("profile").EnumerateArray().ToList();
        Assert.Equal(expected, parts.Select(p => p.GetProperty("part").GetString()!));
        Assert.All(parts, p => Assert.True(p.GetProperty("fwd_ms").GetDouble() >= 0 && p.GetProperty("bwd_ms").GetDouble() >= 0));
        Assert.Equal(0, parts[^1].GetProperty("bwd_ms").GetDouble());                                   // the optimizer has no backward
        Assert.True(parts.Sum(p => p.GetProperty("fwd_ms").GetDouble() + p.GetProperty("bwd_ms").GetDouble()) > 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Finetune_profile_lists_every_part_in_model_order_in_both_forms(bool channelsLast)
    {
        string[] args = ["finetune", "--model", "convmae_tiny_cpu", "--input_size", "64", "--batch_size", "4", "--steps", "1",
                         "--warmup", "0", "--threads", "1", "--profile"];
        var j = Bench(channelsLast ? args : [.. args, "--no_channels_last_stages"]);
        string[] expected = ["patch_embed1", "blocks1.0", "patch_embed2", "blocks2.0", "patch_embed3,patch_embed4", "blocks3",
                             "pool,head,loss", "optimizer"];
        var parts = j.GetProperty("profile").EnumerateArray().ToList();
        Assert.Equal(expected, parts.Select(p => p.GetProperty("part").GetString()!));
        Assert.All(parts.SkipLast(1), p => Assert.True(p.GetProperty("fwd_ms").GetDouble() > 0 && p.GetProperty("bwd_ms").GetDouble() > 0));
        Assert.Equal(0, parts[^1].GetProperty("bwd_ms").GetDouble());
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void Pretrain_bench_reports_consistent_times_flops_and_memory(string dtype)
    {
        var (j, progress) = BenchWithProgress("pretrain", "--model", "convmae_tiny_cpu", "--input_size", "64", "--batch_size", "4", "--steps", "3",
                                              "--warmup", "1", "--threads", "1", "--dtype", dtype);
        Assert.Equal(dtype, j.GetProperty("dtype").GetString());
        // Every figure names the processor it came from; bf16 without hardware support is flagged, fp32 never.
        Assert.Equal(CpuFeatures.Current.Describe(), j.GetProperty("cpu").GetString());
        Assert.Equal(dtype == "bf16" && !CpuFeatures.Current.NativeBf16, progress.Contains("warning: --dtype bf16 on a processor without"));
        Assert.False(j.TryGetProperty("profile", out var none) && none.ValueKind != JsonValueKind.Null);   // only with --profile
        Assert.Equal(3, j.GetProperty("steps").GetInt32());
        Assert.Equal(1, j.GetProperty("threads").GetInt32());
        var ms = j.GetProperty("step_ms");
        double min = ms.GetProperty("min").GetDouble(), median = ms.GetProperty("median").GetDouble(), max = ms.GetProperty("max").GetDouble();
        Assert.True(0 < min && min <= median && median <= max);
        double ips = j.GetProperty("img_per_s").GetDouble();
        Assert.Equal(4 / (median / 1000), ips, 0.01 * ips);
        // Training FLOPs: 3 × the analytic forward count of the pretraining model at this size and mask ratio.
        var expected = ModelSummary.Of(ConvViTConfig.ConvMAETinyCpu, ModelKind.Pretrain).ForwardGFlops * 3;
        Assert.Equal(expected, j.GetProperty("gflop_per_img").GetDouble(), 1e-3);
        Assert.Equal(expected * ips, j.GetProperty("achieved_gflops").GetDouble(), 0.01 * expected * ips + 0.1);
        Assert.True(j.GetProperty("fwd_img_per_s").GetDouble() > 0);
        Assert.True(j.GetProperty("peak_rss_mb").GetDouble() > 50);
        Assert.True(j.GetProperty("gemm_gflops").GetDouble() > 0);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void Segment_bench_times_a_training_step_and_slide_inference(string dtype)
    {
        var j = Bench("segment", "--model", "upernet_convmae_tiny_cpu", "--input_size", "64", "--batch_size", "2", "--steps", "2",
                      "--warmup", "1", "--infer_height", "64", "--infer_width", "160", "--dtype", dtype);
        Assert.Equal("upernet_convmae_tiny_cpu", j.GetProperty("model").GetString());
        Assert.Equal(64, j.GetProperty("input_size").GetInt32());
        double median = j.GetProperty("step_ms").GetProperty("median").GetDouble();
        Assert.Equal(2 / (median / 1000), j.GetProperty("img_per_s").GetDouble(), 0.01 * j.GetProperty("img_per_s").GetDouble());
        var slide = j.GetProperty("slide_infer_ms");
        Assert.True(slide.GetProperty("min").GetDouble() > 0 && slide.GetProperty("min").GetDouble() <= slide.GetProperty("max").GetDouble());
        // 64×160 with 64-pixel windows at stride 43 (341/512 of 64): (160 − 64 + 42) / 43 + 1 = 4 windows.
        Assert.Equal(4, j.GetProperty("slide_windows").GetInt32());
        Assert.True(j.GetProperty("peak_rss_mb").GetDouble() > 50);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void Detect_bench_times_a_training_step_and_one_image_inference_with_counted_flops(string dtype)
    {
        var j = Bench("detect", "--model", "mask_rcnn_convmae_cpu", "--input_size", "64", "--batch_size", "2", "--steps", "2",
                      "--warmup", "1", "--dtype", dtype);
        Assert.Equal("mask_rcnn_convmae_cpu", j.GetProperty("model").GetString());
        Assert.Equal(64, j.GetProperty("input_size").GetInt32());
        double median = j.GetProperty("step_ms").GetProperty("median").GetDouble(), ips = j.GetProperty("img_per_s").GetDouble();
        Assert.Equal(2 / (median / 1000), ips, 0.01 * ips);
        double gflop = j.GetProperty("gflop_per_img").GetDouble();
        Assert.True(gflop > 0);
        Assert.Equal(gflop * ips, j.GetProperty("achieved_gflops").GetDouble(), 0.02 * gflop * ips + 0.1);
        var infer = j.GetProperty("infer_ms");
        double inferMedian = infer.GetProperty("median").GetDouble(), inferGflop = j.GetProperty("infer_gflop").GetDouble();
        Assert.True(inferMedian > 0 && inferGflop > 0);
        Assert.Equal(inferGflop / (inferMedian / 1000), j.GetProperty("infer_achieved_gflops").GetDouble(), 0.02 * inferGflop / (inferMedian / 1000) + 0.1);
        Assert.True(j.GetProperty("peak_rss_mb").GetDouble() > 50);
    }

    [Fact]
    public void Detect_bench_counts_the_same_flops_in_both_forms_of_the_conv_stages()
    {
        // The channels-last stages skip the Conv2d modules the counter hooks, so it adds their work from the shapes.
        string[] common = ["detect", "--model", "mask_rcnn_convmae_cpu", "--input_size", "64", "--batch_size", "1", "--steps", "1", "--warmup", "0"];
        var fast = Bench(common);
        var official = Bench([.. common, "--no_channels_last_stages"]);
        Assert.Equal(official.GetProperty("gflop_per_img").GetDouble(), fast.GetProperty("gflop_per_img").GetDouble());
        Assert.Equal(official.GetProperty("infer_gflop").GetDouble(), fast.GetProperty("infer_gflop").GetDouble());
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void Video_bench_times_pretraining_finetuning_and_multi_view_inference_with_each_phases_memory(string dtype)
    {
        var j = Bench("video", "--model", "videoconvmae_tiny_cpu", "--input_size", "32", "--batch_size", "2", "--steps", "2",
                      "--warmup", "1", "--dtype", dtype);
        Assert.Equal("videoconvmae_tiny_cpu", j.GetProperty("model").GetString());
        Assert.Equal(32, j.GetProperty("input_size").GetInt32());
        Assert.Equal(8, j.GetProperty("num_frames").GetInt32());
        Assert.Equal(15, j.GetProperty("views").GetInt32());           // Kinetics: 5 clips × 3 crops
        double median = j.GetProperty("step_ms").GetProperty("median").GetDouble(), ips = j.GetProperty("img_per_s").GetDouble();
        Assert.Equal(2 / (median / 1000), ips, 0.01 * ips);
        foreach (var key in new[] { "finetune_step_ms", "infer_ms" })
        {
            var t = j.GetProperty(key);
            Assert.True(t.GetProperty("min").GetDouble() > 0 && t.GetProperty("min").GetDouble() <= t.GetProperty("max").GetDouble(), key);
        }
        foreach (var key in new[] { "peak_rss_pretrain_mb", "peak_rss_finetune_mb", "peak_rss_infer_mb" })
            Assert.True(j.GetProperty(key).GetDouble() > 50 && j.GetProperty(key).GetDouble() <= j.GetProperty("peak_rss_mb").GetDouble() + 1, key);
    }

    [Fact]
    public void Infer_and_data_modes_report_and_a_missing_mode_is_named()
    {
        var infer = Bench("infer", "--model", "convmae_tiny_cpu", "--input_size", "64", "--batch_size", "2", "--steps", "2", "--warmup", "0");
        Assert.Equal(ModelSummary.Of(ConvViTConfig.ConvMAETinyCpu, ModelKind.Classifier).ForwardGFlops,
                     infer.GetProperty("gflop_per_img").GetDouble(), 1e-3);
        Assert.False(infer.TryGetProperty("fwd_img_per_s", out _));
        Assert.Equal(0, infer.GetProperty("inference_chunk").GetInt32());          // 2 images: one chunk would hold them all
        var (chunked, progress) = BenchWithProgress("infer", "--model", "convmae_tiny_cpu", "--input_size", "64", "--batch_size", "130",
                                                    "--steps", "1", "--warmup", "0");
        Assert.Equal(64, chunked.GetProperty("inference_chunk").GetInt32());       // 2^19 / (16·16·32) stage-1 elements
        Assert.Contains("forward in chunks of 64 images", progress);

        using var dir = TestPaths.Temp();
        DemoDataset.Generate(dir.File("d"), new DemoDatasetOptions(Seed: 1, TrainPerClass: 4, ValPerClass: 1, Size: 64));
        var data = Bench("data", "--data_path", dir.File("d"), "--input_size", "64", "--batch_size", "8", "--steps", "6", "--warmup", "1");
        Assert.Equal(6, data.GetProperty("steps").GetInt32());        // 40 images = 5 batches per epoch: crosses an epoch
        Assert.True(data.GetProperty("img_per_s").GetDouble() > 0);
        Assert.False(data.TryGetProperty("gflop_per_img", out _));
        Assert.False(data.TryGetProperty("inference_chunk", out _));
        Assert.Equal(40 * 64 * 64 * 3 / 1048576.0, data.GetProperty("decoded_cache_mb").GetDouble(), 0.06);   // every image kept
        Assert.False(infer.TryGetProperty("decoded_cache_mb", out _));

        var r = Proc.Run(Cli, ["bench", "--steps", "1"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("bench needs a mode", r.Combined);
        var bad = Proc.Run(Cli, ["bench", "train"]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("'train'", bad.Combined);
    }
}
