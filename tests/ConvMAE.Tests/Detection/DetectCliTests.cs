using System.Text.Json;
using ConvMAE.DataPrep;
using ConvMAE.Env;
using ConvMAE.Training;
using ConvMAE.Tests.Support;
using Xunit;

namespace ConvMAE.Tests.Detection;

/// <summary>detect train | eval | predict through the command line on a few generated images, resume included, and
/// eval-coco on the written results file agreeing with detect eval.</summary>
[Trait("Category", "Integration")]
public class DetectCliTests
{
    static Proc.Result Run(params string[] args) => KitCli.Run(args);

    [Fact]
    public void Train_resume_eval_and_predict_a_cpu_detector_and_eval_coco_agrees()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("coco");
        CocoDemoDataset.Generate(data, new CocoDemoOptions(Seed: 2, Train: 12, Val: 4, MinSide: 60, MaxSide: 80));
        var run = dir.File("run");
        string[] common = ["--model", "mask_rcnn_convmae_cpu", "--input_size", "64", "--data_path", data, "--threads", "2"];
        // A small lr keeps the detector near its initialisation, where every class scores about 1/5 > 0.05: detections exist.
        string[] train = ["detect", "train", .. common, "--batch_size", "2", "--max_iter", "6", "--lr", "1e-4",
                          "--checkpoint_period", "3", "--eval_period", "3", "--output_dir", run, "--log_dir", ""];
        Run([.. train, "--max_steps", "3"]);
        Run([.. train, "--resume", Path.Combine(run, TrainingCheckpoint.FileName)]);

        // Five named losses summed on every step (3 before the resume, 3 after), evaluations at 3 and 6.
        var records = MetricsLog.Read(Path.Combine(run, MetricsLog.FileName));
        var steps = records.Where(r => r["kind"].GetString() == "train").ToList();
        Assert.Equal([1L, 2, 3, 4, 5, 6], steps.Select(r => r["step"].GetInt64()));
        string[] parts = ["loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask"];
        Assert.All(steps, r => Assert.Equal(parts.Sum(p => r[p].GetDouble()), r["loss"].GetDouble(), 4));
        var evals = records.Where(r => r["kind"].GetString() == "eval").ToList();
        Assert.Equal([3L, 6L], evals.Select(r => r["step"].GetInt64()));

        var checkpoint = Path.Combine(run, TrainingCheckpoint.FileName);
        var eval = Run(["detect", "eval", .. common, "--resume", checkpoint]);
        using var fromEval = JsonDocument.Parse(eval.Stdout.Trim().Split('\n').Last());
        var bbox = fromEval.RootElement.GetProperty("bbox").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(12, bbox.Length);
        Assert.Equal(evals[^1]["bbox/AP"].GetDouble(), 100 * bbox[0], 9);

        var results = dir.File("results.json");
        Run(["detect", "predict", .. common, "--resume", checkpoint, "--out_file", results]);
        using var written = JsonDocument.Parse(File.ReadAllText(results));
        Assert.True(written.RootElement.GetArrayLength() > 0, "no detections were written");
        var first = written.RootElement[0];
        Assert.Equal(JsonValueKind.String, first.GetProperty("segmentation").GetProperty("counts").ValueKind);
        Assert.Contains(first.GetProperty("category_id").GetInt64(), new long[] { 1, 3, 7, 12 });
        var gt = Path.Combine(data, "annotations", "instances_val2017.json");
        foreach (var (type, key) in new[] { ("bbox", "bbox"), ("segm", "segm") })
        {
            var cli = Run(["eval-coco", "--gt", gt, "--dt", results, "--iou-type", type]);
            using var stats = JsonDocument.Parse(cli.Stdout.Trim());
            var fromFile = stats.RootElement.GetProperty("stats").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var expected = fromEval.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray();
            if (type == "bbox") Assert.Equal(expected, fromFile, (a, b) => Math.Abs(a - b) < 1e-12);
            // segm from the file keeps each result's bbox, so pycocotools takes box areas for the size ranges; the kit's
            // own evaluation drops the bbox as detectron2 does. AP over all areas does not depend on areas.
            else Assert.Equal(expected[0], fromFile[0], 12);
        }
    }
}
