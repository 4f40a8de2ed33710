using System.Text.Json;
using ConvMAE.DataPrep;
using ConvMAE.Env;
using ConvMAE.Training;
using ConvMAE.Tests.Support;
using Xunit;

namespace ConvMAE.Tests.Segmentation;

/// <summary>segment train | eval | predict through the command line on a few generated scenes, and eval-seg on the
/// predictions agreeing with segment eval.</summary>
[Trait("Category", "Integration")]
public class SegmentCliTests
{
    static Proc.Result Run(params string[] args) => KitCli.Run(args);

    [Fact]
    public void Train_eval_and_predict_a_tiny_segmenter_and_eval_seg_agrees()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("ade");
        SceneDataset.Generate(data, new SceneDatasetOptions(Seed: 3, Train: 8, Val: 3, Width: 72, Height: 54));
        var run = dir.File("run");
        string[] common = ["--model", "upernet_convmae_tiny_cpu", "--input_size", "64", "--img_scale", "192,64", "--num_classes", "8",
                           "--data_path", data, "--threads", "2"];
        Run(["segment", "train", .. common, "--batch_size", "4", "--max_iter", "6", "--warmup_iters", "2", "--blr", "0.03",
             "--checkpoint_period", "3", "--eval_period", "3", "--output_dir", run, "--log_dir", run]);

        // Both named losses (and their sum) on every step; an evaluation at iterations 3 and 6.
        var records = MetricsLog.Read(Path.Combine(run, MetricsLog.FileName));
        var train = records.Where(r => r["kind"].GetString() == "train").ToList();
        Assert.Equal(6, train.Count);
        Assert.All(train, r => Assert.Equal(r["decode.loss_seg"].GetDouble() + r["aux.loss_seg"].GetDouble(), r["loss"].GetDouble(), 5));
        var evals = records.Where(r => r["kind"].GetString() == "eval").ToList();
        Assert.Equal([3L, 6L], evals.Select(r => r["step"].GetInt64()));
        Assert.All(evals, r => Assert.InRange(r["mIoU"].GetDouble(), 0, 1));

        var checkpoint = Path.Combine(run, TrainingCheckpoint.FileName);
        var eval = Run(["segment", "eval", .. common, "--resume", checkpoint]);
        using var fromEval = JsonDocument.Parse(eval.Stdout.Trim().Split('\n').Last());
        Assert.Equal(evals[^1]["mIoU"].GetDouble(), fromEval.RootElement.GetProperty("mIoU").GetDouble(), 12);

        var preds = dir.File("pred");
        Run(["segment", "predict", .. common, "--resume", checkpoint, "--out_dir", preds]);
        Assert.Equal(3, Directory.GetFiles(preds, "*.png").Length);
        var evalSeg = Run(["eval-seg", "--pred", preds, "--gt", Path.Combine(data, "annotations", "validation"), "--num_classes", "8", "--reduce_zero_label"]);
        using var fromPng = JsonDocument.Parse(evalSeg.Stdout.Trim());
        foreach (var key in new[] { "aAcc", "mIoU", "mAcc" })
            Assert.Equal(fromEval.RootElement.GetProperty(key).GetDouble(), fromPng.RootElement.GetProperty(key).GetDouble(), 12);
    }
}
