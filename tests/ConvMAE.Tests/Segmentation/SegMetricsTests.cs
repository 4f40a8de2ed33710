using System.Text.Json;
using ConvMAE.Data;
using ConvMAE.Env;
using ConvMAE.Evaluation;
using Xunit;

namespace ConvMAE.Tests.Segmentation;

/// <summary>mmsegmentation's IoU metric: hand-built cases computed from its definitions, the recorded cases of
/// shared/seg-eval (mmseg's own answers), and the eval-seg command line.</summary>
public class SegMetricsTests
{
    static byte[] B(params int[] v) => v.Select(x => (byte)x).ToArray();

    [Fact]
    public void Hand_built_case_with_absent_classes_ignore_pixels_and_false_positives()
    {
        // 4 classes. Ground truth (already reduced): 0 0 1 1 255 255 2 2; prediction: 0 1 1 1 3 0 2 0.
        // Class 0: pred 2 (pixels 0 and 7; pixel 5 is ignored), label 2, intersect 1 → IoU 1/3, Acc 1/2.
        // Class 1: pred 3, label 2, intersect 2 → IoU 2/3, Acc 1. Class 2: pred 1, label 2, intersect 1 → IoU 1/2, Acc 1/2.
        // Class 3: predicted only on an ignored pixel → pred 0, label 0: IoU NaN, Acc NaN (absent from both).
        var m = new SegMetrics(4);
        m.Add(B(0, 1, 1, 1, 3, 0, 2, 0), B(0, 0, 1, 1, 255, 255, 2, 2));
        var r = m.Result();
        Assert.Equal([1 / 3.0, 2 / 3.0, 0.5, double.NaN], r.IoU);
        Assert.Equal([0.5, 1.0, 0.5, double.NaN], r.Acc);
        Assert.Equal((1 / 3.0 + 2 / 3.0 + 0.5) / 3, r.MIoU, 12);
        Assert.Equal((0.5 + 1 + 0.5) / 3, r.MAcc, 12);
        Assert.Equal(4 / 6.0, r.AAcc, 12);           // 4 agreeing of 6 labelled pixels

        // A class predicted but absent from the ground truth: IoU 0 (its union is its predictions), Acc NaN.
        var fp = new SegMetrics(3);
        fp.Add(B(2, 2, 0), B(0, 0, 0));
        var f = fp.Result();
        Assert.Equal([1 / 3.0, double.NaN, 0.0], f.IoU);
        Assert.Equal([1 / 3.0, double.NaN, double.NaN], f.Acc);
        Assert.Equal(1 / 6.0, f.MIoU, 12);            // NaN-ignoring means
        Assert.Equal(1 / 3.0, f.MAcc, 12);
    }

    [Fact]
    public void Reduce_zero_label_maps_0_to_ignore_and_k_to_k_minus_1()
    {
        // Dataset convention: 0 = other (ignored), 1..3 = classes 0..2, 255 stays ignored.
        var m = new SegMetrics(3, reduceZeroLabel: true);
        m.Add(B(0, 0, 1, 2, 2, 1), B(1, 0, 2, 3, 255, 0));
        var r = m.Result();
        // Kept pixels: 0 (label 0, pred 0), 2 (label 1, pred 1), 3 (label 2, pred 2).
        Assert.Equal([1.0, 1.0, 1.0], r.IoU);
        Assert.Equal(1.0, r.AAcc);
        Assert.Equal([1L, 1, 1], r.AreaLabel);
    }

    public static TheoryData<string> Cases()
    {
        var dir = Environment.GetEnvironmentVariable("CONVMAE_SEG_EVAL_DIR") is { Length: > 0 } d ? d
                : Path.Combine(TestPaths.RepoRoot, "..", "shared", "seg-eval");
        var data = new TheoryData<string>();
        foreach (var c in Directory.Exists(dir) ? Directory.GetDirectories(dir).Where(c => File.Exists(Path.Combine(c, "expected.json"))).Order().ToArray() : [])
            data.Add(Path.GetFullPath(c));
        if (data.Count == 0) data.Add($"<no case with expected.json in {dir}>");
        return data;
    }

    static void AssertMatches(JsonElement expected, JsonElement actual, string where)
    {
        foreach (var key in new[] { "aAcc", "mIoU", "mAcc" })
            Assert.True(Math.Abs(expected.GetProperty(key).GetDouble() - actual.GetProperty(key).GetDouble()) <= 1e-4,
                        $"{where} {key}: {actual.GetProperty(key)} vs mmseg {expected.GetProperty(key)}");
        foreach (var key in new[] { "IoU", "Acc" })
        {
            var e = expected.GetProperty(key).EnumerateArray().ToList();
            var a = actual.GetProperty(key).EnumerateArray().ToList();
            Assert.Equal(e.Count, a.Count);
            for (int i = 0; i < e.Count; i++)
            {
                if (e[i].ValueKind == JsonValueKind.Null) { Assert.True(a[i].ValueKind == JsonValueKind.Null, $"{where} {key}[{i}]: {a[i]}, mmseg NaN"); continue; }
                Assert.True(a[i].ValueKind == JsonValueKind.Number && Math.Abs(e[i].GetDouble() - a[i].GetDouble()) <= 1e-4,
                            $"{where} {key}[{i}]: {a[i]} vs mmseg {e[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Eval_seg_command_gives_mmsegmentations_numbers(string folder)
    {
        if (folder.StartsWith('<')) Assert.Fail(folder);
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected.json")));
        var e = expected.RootElement;
        var args = new List<string> { "eval-seg", "--pred", Path.Combine(folder, "pred"), "--gt", Path.Combine(folder, "gt"),
                                      "--num_classes", e.GetProperty("num_classes").GetInt32().ToString() };
        if (e.TryGetProperty("reduce_zero_label", out var rz) && rz.GetBoolean()) args.Add("--reduce_zero_label");
        if (e.TryGetProperty("ignore_index", out var ii)) args.AddRange(["--ignore_index", ii.GetInt32().ToString()]);
        var r = Proc.Run(Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli"), args);
        Assert.True(r.ExitCode == 0, r.Combined);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var actual = JsonDocument.Parse(lines[0]);
        AssertMatches(e, actual.RootElement, Path.GetFileName(folder));
    }

    [Fact]
    public void Label_maps_round_trip_and_bad_files_are_named()
    {
        using var dir = TestPaths.Temp();
        var map = new LabelMap(5, 3, B(0, 1, 2, 3, 4, 255, 254, 10, 11, 12, 7, 7, 7, 7, 7));
        IndexedPng.Write(dir.File("a.png"), map);
        Assert.Equal(map.Values, IndexedPng.Read(dir.File("a.png")).Values);
        File.WriteAllBytes(dir.File("cut.png"), File.ReadAllBytes(dir.File("a.png"))[..40]);
        var e = Assert.Throws<BadSampleException>(() => IndexedPng.Read(dir.File("cut.png")));
        Assert.Contains("cut.png", e.Message);
        File.WriteAllText(dir.File("text.png"), "not a png");
        Assert.Contains("not a PNG", Assert.Throws<BadSampleException>(() => IndexedPng.Read(dir.File("text.png"))).Message);
        // A colour PNG is refused (labels must be one value per pixel).
        using (var img = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(4, 4))
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(img, dir.File("rgb.png"));
        Assert.Contains("8-bit greyscale or palette", Assert.Throws<BadSampleException>(() => IndexedPng.Read(dir.File("rgb.png"))).Message);
    }

    [Fact]
    public void A_prediction_folder_missing_a_file_or_with_a_wrong_size_is_named()
    {
        using var dir = TestPaths.Temp();
        Directory.CreateDirectory(dir.File("gt"));
        Directory.CreateDirectory(dir.File("pred"));
        IndexedPng.Write(Path.Combine(dir.File("gt"), "x.png"), new LabelMap(2, 2, B(1, 1, 1, 1)));
        IndexedPng.Write(Path.Combine(dir.File("gt"), "y.png"), new LabelMap(2, 2, B(1, 1, 1, 1)));
        IndexedPng.Write(Path.Combine(dir.File("pred"), "x.png"), new LabelMap(2, 1, B(0, 0)));
        var missing = Assert.Throws<InvalidDataException>(() => SegMetrics.EvaluateFolders(dir.File("pred"), dir.File("gt"), 3, true));
        Assert.Contains("y.png", missing.Message);
        IndexedPng.Write(Path.Combine(dir.File("pred"), "y.png"), new LabelMap(2, 2, B(0, 0, 0, 0)));
        var size = Assert.Throws<InvalidDataException>(() => SegMetrics.EvaluateFolders(dir.File("pred"), dir.File("gt"), 3, true));
        Assert.Contains("x.png", size.Message);
    }
}
