using ConvMAE.Data;
using ConvMAE.Data.Segmentation;
using ConvMAE.DataPrep;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Segmentation;

/// <summary>The ADE20K layout reader, mmseg's pipeline steps, batching, and the errors that name the file.</summary>
public class SegDataTests
{
    /// <summary>An ADE20K-layout folder with n training images 8×6 and labels 1..3, plus whatever the test breaks.</summary>
    static string Layout(TestPaths.TempDir dir, int n = 3)
    {
        foreach (var split in new[] { "training", "validation" })
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, "images", split));
            Directory.CreateDirectory(Path.Combine(dir.Path, "annotations", split));
            for (int i = 0; i < n; i++)
            {
                using (var img = new Image<Rgb24>(8, 6, new Rgb24((byte)(40 * i), 100, 200))) img.SaveAsJpeg(Path.Combine(dir.Path, "images", split, $"s{i}.jpg"));
                IndexedPng.Write(Path.Combine(dir.Path, "annotations", split, $"s{i}.png"),
                                 new LabelMap(8, 6, Enumerable.Range(0, 48).Select(p => (byte)(p % 4)).ToArray()));
            }
        }
        return dir.Path;
    }

    [Fact]
    public void An_image_without_its_annotation_is_skipped_with_a_warning_or_refused_under_strict()
    {
        using var dir = TestPaths.Temp();
        var root = Layout(dir);
        using (var img = new Image<Rgb24>(8, 6)) img.SaveAsJpeg(Path.Combine(root, "images", "training", "lonely.jpg"));
        var data = Ade20kDataset.Open(root, "training", numClasses: 3);
        Assert.Equal(3, data.Count);
        Assert.Contains(data.Warnings, w => w.Contains("lonely.jpg") && w.Contains("no annotation"));
        var e = Assert.Throws<InvalidDataException>(() => Ade20kDataset.Open(root, "training", numClasses: 3, strict: true));
        Assert.Contains("lonely.jpg", e.Message);
        Assert.Contains("annotations", Assert.Throws<DirectoryNotFoundException>(() => Ade20kDataset.Open(dir.File("nowhere"), "training")).Message);
    }

    [Fact]
    public void Bad_samples_name_their_file_and_the_loader_skips_them_unless_strict()
    {
        using var dir = TestPaths.Temp();
        var root = Layout(dir, n: 4);
        var ann = Path.Combine(root, "annotations", "training");
        IndexedPng.Write(Path.Combine(ann, "s1.png"), new LabelMap(8, 6, Enumerable.Repeat((byte)9, 48).ToArray()));   // 9 > 3 classes
        IndexedPng.Write(Path.Combine(ann, "s2.png"), new LabelMap(5, 6, new byte[30]));                               // wrong size
        File.WriteAllBytes(Path.Combine(ann, "s3.png"), [1, 2, 3]);                                                     // not a PNG
        var data = Ade20kDataset.Open(root, "training", numClasses: 3);
        Assert.Contains("label value 9", Assert.Throws<BadSampleException>(() => data.Load(1)).Message);
        var size = Assert.Throws<BadSampleException>(() => data.Load(2));
        Assert.Contains("s2.png", size.Message);
        Assert.Contains("s2.jpg", size.Message);
        Assert.Contains("s3.png", Assert.Throws<BadSampleException>(() => data.Load(3)).Message);

        var pipeline = new SegPipeline(16, 8, CropSize: 8, PhotoMetric: false);
        var loader = new SampleLoader<SegSample, SegHostBatch>(new SegTrainSource(data, pipeline), (slot, s) => SegHostBatch.Collate(slot, s, 8),
                                                               new LoaderOptions(4, Shuffle: false, DropLast: false));
        var batch = loader.Epoch(0).Single();
        Assert.Equal(1, batch.Count);                            // three bad samples left out, the run goes on
        Assert.Equal(3, loader.SkippedSamples);
        Assert.Equal(3, loader.DrainWarnings().Count(w => w.StartsWith("skipped ")));
        var strict = new SampleLoader<SegSample, SegHostBatch>(new SegTrainSource(data, pipeline), (slot, s) => SegHostBatch.Collate(slot, s, 8),
                                                               new LoaderOptions(4, Shuffle: false, DropLast: false, Strict: true));
        Assert.Throws<BadSampleException>(() => strict.Epoch(0).ToList());
    }

    [Fact]
    public void Rescale_follows_mmcv_imrescale_and_reduce_zero_label_maps_as_mmseg()
    {
        // scale factor = min(long / max(h, w), short / min(h, w)); sizes int(x·f + 0.5).
        Assert.Equal((683, 512), SegPipeline.RescaleSize(683, 512, 2048, 512));
        Assert.Equal((2048, 307), SegPipeline.RescaleSize(2000, 300, 2048, 512));      // f = 1.024, limited by the long side
        Assert.Equal((683, 512), SegPipeline.RescaleSize(256, 192, 2048, 512));        // f = 8/3: upscaled to the short side
        Assert.Equal(new byte[] { 255, 0, 149, 255 }, SegPipeline.Ade20k.Reduce([0, 1, 150, 255]));
    }

    [Fact]
    public void The_crop_avoids_a_dominating_class_when_it_can_and_flips_image_and_labels_together()
    {
        // 40×40: class 2 everywhere except a 16×16 block of class 3 in the corner; 20×20 crops. A crop is acceptable
        // (no class at 75 % or more) when it holds more than 100 pixels of the block: about 1 draw in 6.
        var labels = new byte[40 * 40];
        for (int y = 0; y < 40; y++) for (int x = 0; x < 40; x++) labels[y * 40 + x] = (byte)(x >= 24 && y >= 24 ? 3 : 2);
        var rgb = new byte[40 * 40 * 3];
        for (int i = 0; i < 40 * 40; i++) rgb[i * 3] = (byte)(i % 40);          // red = x
        var image = new SegImage(new Rgb8Image(40, 40, rgb), new LabelMap(40, 40, labels), "t");
        var p = new SegPipeline(40, 40, RatioMin: 1, RatioMax: 1, CropSize: 20, PhotoMetric: false, FlipProb: 0, ReduceZeroLabel: false);
        int Balanced(SegPipeline pipeline)
        {
            int n = 0;
            for (int seed = 0; seed < 50; seed++)
            {
                var s = pipeline.Train(image, new Random(seed));
                Assert.Equal((20, 20), (s.Width, s.Height));
                var counts = s.Labels.GroupBy(l => l).Select(g => g.Count()).ToList();
                if (counts.Count > 1 && counts.Max() / 400.0 < 0.75) n++;
            }
            return n;
        }
        int withRetries = Balanced(p), oneDraw = Balanced(p with { CatMaxRatio = 1.0 });
        // Up to ten more draws: 1 − (5/6)^11 ≈ 85 % of crops acceptable, against ≈ 16 % for one draw.
        Assert.True(withRetries >= 30 && withRetries > oneDraw + 15, $"{withRetries} acceptable crops with retries, {oneDraw} without");

        var flipped = (p with { FlipProb = 1 }).Train(image, new Random(1));
        var straight = p.Train(image, new Random(1));
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++)
            {
                Assert.Equal(straight.Labels[y * 20 + x], flipped.Labels[y * 20 + 19 - x]);
                Assert.Equal(straight.Pixels[(y * 20 + x) * 3], flipped.Pixels[(y * 20 + 19 - x) * 3]);
            }
    }

    [Fact]
    public void Batches_pad_labels_with_ignore_and_images_with_zero_after_normalisation()
    {
        var a = new SegSample(Enumerable.Repeat((byte)255, 2 * 3 * 3).ToArray(), [0, 1, 2, 3, 4, 5], 3, 2, "a");
        var batch = SegHostBatch.Collate(new BatchSlot(0, 0, [0]), [a], 4);
        var (images, labels) = batch.ToTensors(CPU);
        Assert.Equal(new long[] { 1, 3, 4, 4 }, images.shape);
        Assert.Equal(new long[] { 0, 1, 2, 255, 3, 4, 5, 255, 255, 255, 255, 255, 255, 255, 255, 255 }, labels.flatten().data<long>().ToArray());
        // Inside: (1 - 0.485) / 0.229 for red; outside the 3×2 sample: exactly 0 (mmseg pads the normalised image with 0).
        Assert.Equal((1 - 0.485) / 0.229, images[0, 0, 0, 0].item<float>(), 4);
        Assert.Equal(0f, images[0, 0, 0, 3].item<float>());
        Assert.Equal(0f, images[0, 2, 3, 0].item<float>());
    }

    [Fact]
    public void Hsv_conversions_follow_OpenCVs_8_bit_convention()
    {
        PhotoMetricDistortion.ToHsv(255, 0, 0, out var h, out var s, out var v);
        Assert.Equal((0, 255, 255), (h, s, v));
        PhotoMetricDistortion.ToHsv(0, 0, 255, out h, out s, out v);
        Assert.Equal((120, 255, 255), (h, s, v));                                   // 240° / 2
        PhotoMetricDistortion.ToHsv(100, 100, 100, out h, out s, out v);
        Assert.Equal((0, 0, 100), (h, s, v));
        var rng = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            byte r = (byte)rng.Next(256), g = (byte)rng.Next(256), b = (byte)rng.Next(256);
            PhotoMetricDistortion.ToHsv(r, g, b, out h, out s, out v);
            PhotoMetricDistortion.FromHsv(h, s, v, out var r2, out var g2, out var b2);
            Assert.True(Math.Abs(r - r2) <= 4 && Math.Abs(g - g2) <= 4 && Math.Abs(b - b2) <= 4, $"({r},{g},{b}) → ({r2},{g2},{b2})");
        }
    }

    [Fact]
    public void Generated_scenes_are_in_the_ADE20K_layout_and_deterministic()
    {
        using var dir = TestPaths.Temp();
        var o = new SceneDatasetOptions(Seed: 5, Train: 3, Val: 2, Width: 48, Height: 36);
        Assert.True(SceneDataset.Generate(dir.File("a"), o));
        Assert.False(SceneDataset.Generate(dir.File("a"), o));                       // current: nothing to do
        Assert.True(SceneDataset.Generate(dir.File("b"), o));
        var data = Ade20kDataset.Open(dir.File("a"), "training", numClasses: SceneDataset.Classes.Length, strict: true);
        Assert.Equal(3, data.Count);
        Assert.Equal(2, Ade20kDataset.Open(dir.File("a"), "validation", numClasses: 8, strict: true).Count);
        for (int i = 0; i < 3; i++)
        {
            var s = data.Load(i);
            Assert.Equal((48, 36), (s.Image.Width, s.Image.Height));
            Assert.All(s.Label.Values, v => Assert.InRange(v, 0, 8));
        }
        foreach (var f in Directory.GetFiles(dir.File("a"), "*", SearchOption.AllDirectories))
            Assert.Equal(File.ReadAllBytes(f), File.ReadAllBytes(f.Replace(dir.File("a"), dir.File("b"))));
    }
}
