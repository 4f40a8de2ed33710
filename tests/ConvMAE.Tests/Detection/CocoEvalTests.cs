using System.Text.Json;
using ConvMAE.Data.Coco;
using ConvMAE.Env;
using ConvMAE.Evaluation;
using Xunit;

namespace ConvMAE.Tests.Detection;

/// <summary>COCOeval's 12 numbers: small cases whose answers follow from COCOeval's definitions by hand, the recorded
/// pycocotools answers of shared/coco-eval (scanned; other cases of that format are run too), and the eval-coco CLI.</summary>
public class CocoEvalTests
{
    static readonly object[] Categories = [new { id = 3, name = "three" }, new { id = 7, name = "seven" }];

    static CocoInstances Gt(object[] images, object[] annotations, TestPaths.TempDir dir)
    {
        var path = dir.File("gt.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new { images, annotations, categories = Categories }));
        return CocoInstances.Load(path);
    }

    static IReadOnlyList<CocoAnnotation> Results(object[] results, TestPaths.TempDir dir)
    {
        var path = dir.File("dt.json");
        File.WriteAllText(path, JsonSerializer.Serialize(results));
        return CocoInstances.LoadResults(path);
    }

    static object Image(int id) => new { id, width = 100, height = 100, file_name = $"{id}.png" };
    static object Box(int id, int image, int cat, double[] bbox, int crowd = 0) =>
        new { id, image_id = image, category_id = cat, bbox, area = bbox[2] * bbox[3], iscrowd = crowd,
              segmentation = new[] { new[] { bbox[0], bbox[1], bbox[0], bbox[1] + bbox[3], bbox[0] + bbox[2], bbox[1] + bbox[3], bbox[0] + bbox[2], bbox[1] } } };
    static object Det(int image, int cat, double[] bbox, double score) => new { image_id = image, category_id = cat, bbox, score };

    [Fact]
    public void One_exact_detection_of_a_small_object_scores_1_and_undefined_ranges_are_minus_1()
    {
        using var dir = TestPaths.Temp();
        var gt = Gt([Image(1)], [Box(5, 1, 3, [10, 10, 20, 20])], dir);   // area 400: small
        var s = CocoEvaluator.Evaluate(gt, Results([Det(1, 3, [10, 10, 20, 20], 0.9)], dir), CocoIouType.Bbox);
        // Category 7 has no ground truth: precision -1 there, left out of the means. (Precision is tp / (tp + fp + eps),
        // so "1" is 1 - 1e-16, as in pycocotools.)
        double[] expected = [1.0, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1];
        for (int i = 0; i < 12; i++) Assert.Equal(expected[i], s[i], 12);
    }

    [Fact]
    public void Crowds_absorb_detections_and_images_without_annotations_count_false_positives()
    {
        using var dir = TestPaths.Temp();
        // Image 1: one object of category 3 and a crowd region; image 2 has no annotations at all.
        var gt = Gt([Image(1), Image(2)],
                    [Box(5, 1, 3, [10, 10, 20, 20]), Box(6, 1, 3, [60, 60, 30, 30], crowd: 1)], dir);
        var withoutEmptyImage = new object[]
        {
            Det(1, 3, [0, 80, 5, 5], 0.99),       // false positive, highest score
            Det(1, 3, [62, 62, 10, 10], 0.98),    // inside the crowd: IoU = overlap / own area = 1 → ignored, not an FP
            Det(1, 3, [10, 10, 20, 20], 0.9),     // the true positive
            Det(1, 9, [10, 10, 20, 20], 0.95),    // category 9 is not in the ground truth: dropped
        };
        // Ranked FP, TP: precision 0, 1/2 → interpolated 1/2 at every recall point and threshold.
        var s = CocoEvaluator.Evaluate(gt, Results(withoutEmptyImage, dir), CocoIouType.Bbox);
        Assert.Equal(0.5, s[0], 12);
        Assert.Equal(0.5, s[1], 12);
        Assert.Equal(1.0, s[8], 12);           // AR100
        Assert.Equal(0.0, s[6], 12);           // AR1: the single best detection is the false positive
        // A second false positive on the image without annotations, ranked second: FP, FP, TP → 1/3.
        var s2 = CocoEvaluator.Evaluate(gt, Results([.. withoutEmptyImage, Det(2, 3, [10, 10, 20, 20], 0.97)], dir), CocoIouType.Bbox);
        Assert.Equal(1 / 3.0, s2[0], 12);
        // The crowd's area (900, medium) gives no medium object to find: APm stays undefined.
        Assert.Equal(-1, s2[4]);
    }

    [Fact]
    public void Only_the_best_100_detections_per_image_and_category_are_kept()
    {
        using var dir = TestPaths.Temp();
        var gt = Gt([Image(1)], [Box(1, 1, 3, [10, 10, 20, 20]), Box(2, 1, 3, [50, 50, 20, 20])], dir);
        var dets = new List<object> { Det(1, 3, [10, 10, 20, 20], 0.9) };
        for (int i = 0; i < 100; i++) dets.Add(Det(1, 3, [i % 10 * 4, 80 + i / 10 % 2 * 10, 3, 3], 0.5));
        dets.Add(Det(1, 3, [50, 50, 20, 20], 0.1));   // ranked 102nd: cut
        var s = CocoEvaluator.Evaluate(gt, Results([.. dets], dir), CocoIouType.Bbox);
        // Recall stops at 1/2 after the first detection with precision 1: recall points 0, .01, ..., .50 (51 of 101)
        // get precision 1, the rest 0.
        Assert.Equal(51 / 101.0, s[0], 12);
        Assert.Equal(0.5, s[8], 12);
        // Duplicate detections of one object: the second is a false positive at every threshold.
        var dup = CocoEvaluator.Evaluate(gt, Results([Det(1, 3, [50, 50, 20, 20], 0.95), Det(1, 3, [50, 50, 20, 20], 0.9),
                                                     Det(1, 3, [10, 10, 20, 20], 0.8)], dir), CocoIouType.Bbox);
        // TP, FP, TP: precision 1, 1/2, 2/3 → interpolated 1 up to recall 1/2, then 2/3.
        Assert.Equal((51 * 1.0 + 50 * 2 / 3.0) / 101, dup[0], 12);
    }

    [Fact]
    public void Mask_iou_uses_the_rasterised_polygons_and_a_box_first_results_file_takes_box_areas()
    {
        using var dir = TestPaths.Temp();
        var gt = Gt([Image(1)], [Box(1, 1, 3, [10, 10, 20, 20])], dir);
        // A mask detection covering the left half of the object: mask IoU 1/2 → matched at threshold .50 only.
        var half = new byte[100 * 100];
        for (int y = 10; y < 30; y++) for (int x = 10; x < 20; x++) half[y * 100 + x] = 1;
        var rle = Rle.Encode(half, 100, 100);
        var segm = new { image_id = 1, category_id = 3, score = 0.9, segmentation = new { size = new[] { 100, 100 }, counts = rle.ToCompressedString() } };
        var s = CocoEvaluator.Evaluate(gt, Results([segm], dir), CocoIouType.Segm);
        Assert.Equal(0.1, s[0], 12);      // AP 1 at one threshold of ten
        Assert.Equal(1.0, s[1], 12);
        Assert.Equal(0.0, s[2], 12);
        // pycocotools picks box or mask handling from the FIRST result: with a bbox there, every detection's area is
        // w*h even in segm evaluation. A stray 10×10 mask (small) boxed as 40×40 (medium) ranked above the exact mask:
        var stray = new byte[100 * 100];
        for (int y = 60; y < 70; y++) for (int x = 60; x < 70; x++) stray[y * 100 + x] = 1;
        var strayRle = new { size = new[] { 100, 100 }, counts = Rle.Encode(stray, 100, 100).ToCompressedString() };
        var exactRle = new { size = new[] { 100, 100 }, counts = Rle.FromBbox([10, 10, 20, 20], 100, 100).ToCompressedString() };
        var masksOnly = CocoEvaluator.Evaluate(gt, Results([new { image_id = 1, category_id = 3, score = 0.95, segmentation = strayRle },
                                                            new { image_id = 1, category_id = 3, score = 0.9, segmentation = exactRle }], dir), CocoIouType.Segm);
        var boxed = CocoEvaluator.Evaluate(gt, Results([new { image_id = 1, category_id = 3, score = 0.95, segmentation = strayRle, bbox = new[] { 60.0, 60, 40, 40 } },
                                                        new { image_id = 1, category_id = 3, score = 0.9, segmentation = exactRle, bbox = new[] { 10.0, 10, 20, 20 } }], dir), CocoIouType.Segm);
        Assert.Equal(0.5, masksOnly[0], 12);   // FP then TP
        Assert.Equal(0.5, boxed[0], 12);
        Assert.Equal(0.5, masksOnly[3], 12);   // small range: the stray mask (area 100) is a small false positive
        Assert.Equal(1.0, boxed[3], 12);       // ... but with box areas it is medium, so ignored
    }

    public static TheoryData<string> Cases()
    {
        var dir = Environment.GetEnvironmentVariable("CONVMAE_COCO_EVAL_DIR") is { Length: > 0 } d ? d
                : Path.Combine(TestPaths.RepoRoot, "..", "shared", "coco-eval");
        var data = new TheoryData<string>();
        foreach (var c in Directory.Exists(dir) ? Directory.GetDirectories(dir).Where(c => File.Exists(Path.Combine(c, "expected.json"))).Order().ToArray() : [])
            data.Add(Path.GetFullPath(c));
        if (data.Count == 0) data.Add($"<no case with expected.json in {dir}>");
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Eval_coco_command_gives_pycocotools_numbers(string folder)
    {
        if (folder.StartsWith('<')) Assert.Fail(folder);
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected.json")));
        foreach (var type in new[] { "bbox", "segm" })
        {
            var r = Proc.Run(Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli"),
                             ["eval-coco", "--gt", Path.Combine(folder, "gt.json"), "--dt", Path.Combine(folder, $"dt_{type}.json"), "--iou-type", type]);
            Assert.True(r.ExitCode == 0, r.Combined);
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            using var actual = JsonDocument.Parse(lines[0]);
            var a = actual.RootElement.GetProperty("stats").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            var e = expected.RootElement.GetProperty(type).EnumerateArray().Select(x => x.GetDouble()).ToArray();
            Assert.Equal(12, a.Length);
            for (int i = 0; i < 12; i++)
                Assert.True(Math.Abs(a[i] - e[i]) <= 1e-4, $"{Path.GetFileName(folder)} {type} {CocoEvaluator.StatNames[i]}: {a[i]} vs pycocotools {e[i]}");
        }
    }

    [Fact]
    public void Results_for_unknown_images_and_annotations_without_area_are_named()
    {
        using var dir = TestPaths.Temp();
        var gt = Gt([Image(1)], [Box(5, 1, 3, [10, 10, 20, 20])], dir);
        var e = Assert.Throws<CocoFormatException>(() => CocoEvaluator.Evaluate(gt, Results([Det(42, 3, [0, 0, 1, 1], 1)], dir), CocoIouType.Bbox));
        Assert.Contains("image_id 42", e.Message);
        Results([Det(1, 1, [0, 0, 1, 1], 1)], dir);   // a valid results file for the next two
        File.WriteAllText(dir.File("noarea.json"), """{"images":[{"id":1,"width":9,"height":9}],"categories":[{"id":1}],"annotations":[{"id":77,"image_id":1,"category_id":1,"bbox":[0,0,1,1],"iscrowd":0}]}""");
        var r = Proc.Run(Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli"),
                         ["eval-coco", "--gt", dir.File("noarea.json"), "--dt", dir.File("dt.json"), "--iou-type", "bbox"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("annotation id 77", r.Combined);
        Assert.Contains("area", r.Combined);
        var bad = Proc.Run(Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli"),
                           ["eval-coco", "--gt", dir.File("noarea.json"), "--dt", dir.File("dt.json"), "--iou-type", "keypoints"]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("bbox or segm", bad.Combined);
    }
}
