using System.Text.Json.Nodes;
using ConvMAE.Data.Coco;
using ConvMAE.DataPrep;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace ConvMAE.Tests.Detection;

/// <summary>The COCO reader (category mapping, crowd and empty-image rules, every malformed-annotation case), the LSJ and
/// test transforms, and the embedded generator's output read back through the reader.</summary>
public class CocoDataTests
{
    /// <summary>Two 40×30 images (the second without annotations) and annotations numbered by what they test.</summary>
    static string WriteSet(TestPaths.TempDir dir, params JsonObject[] annotations)
    {
        var images = dir.File("images");
        Directory.CreateDirectory(images);
        foreach (var name in new[] { "a.png", "b.png" })
            using (var img = new Image<Rgb24>(40, 30, new Rgb24(10, 20, 30))) img.SaveAsPng(Path.Combine(images, name));
        var doc = new JsonObject
        {
            ["images"] = new JsonArray(new JsonObject { ["id"] = 5, ["width"] = 40, ["height"] = 30, ["file_name"] = "a.png" },
                                       new JsonObject { ["id"] = 9, ["width"] = 40, ["height"] = 30, ["file_name"] = "b.png" }),
            ["categories"] = new JsonArray(new JsonObject { ["id"] = 17, ["name"] = "dog" }, new JsonObject { ["id"] = 3, ["name"] = "cat" }),
            ["annotations"] = new JsonArray(annotations),
        };
        var path = dir.File("instances.json");
        File.WriteAllText(path, doc.ToJsonString());
        return path;
    }

    static JsonObject Ann(long id, long cat = 17, double[]? bbox = null, JsonNode? seg = null, int crowd = 0, long image = 5)
    {
        var a = new JsonObject { ["id"] = id, ["image_id"] = image, ["category_id"] = cat, ["iscrowd"] = crowd, ["area"] = 10.0 };
        a["bbox"] = new JsonArray((bbox ?? [2, 3, 10, 8]).Select(v => (JsonNode)v).ToArray());
        a["segmentation"] = seg ?? new JsonArray(new JsonArray(2, 3, 12, 3, 12, 11, 2, 11));
        return a;
    }

    static JsonObject Rle(int h, int w, JsonNode counts) => new() { ["size"] = new JsonArray(h, w), ["counts"] = counts };

    static JsonObject[] Malformed() =>
    [
        Ann(1),                                                                          // good, category 17 → class 1
        Ann(2, cat: 3, seg: Rle(30, 40, new JsonArray(100, 20, 1080))),                // good RLE, category 3 → class 0
        Ann(3, seg: new JsonArray(new JsonArray(1, 1, 5, 5))),                          // a polygon of 2 points
        Ann(4, bbox: [50, 3, 10, 8]),                                                    // box outside the 40×30 image
        Ann(5, cat: 99),                                                                 // unknown category
        new JsonObject { ["id"] = 6, ["image_id"] = 5, ["bbox"] = new JsonArray(1, 1, 2, 2) },   // no category_id
        Ann(7, seg: Rle(31, 40, new JsonArray(100, 20, 1120))),                        // RLE size is not the image's
        Ann(8, seg: new JsonArray(new JsonArray(1, 1, 5, 5), new JsonArray(2, 3, 12, 3, 12, 11))), // the short polygon is dropped
        Ann(9, crowd: 1, seg: Rle(30, 40, new JsonArray(0, 40, 1160))),                // crowd
        Ann(10, seg: Rle(30, 40, new JsonArray(100, 20, 1000))),                       // counts cover 1120 of 1200 pixels
    ];

    [Fact]
    public void Categories_map_to_contiguous_classes_in_id_order_and_malformed_annotations_are_counted_and_named()
    {
        using var dir = TestPaths.Temp();
        var json = WriteSet(dir, Malformed());
        var train = CocoDetectionDataset.Open(json, dir.File("images"), training: true);
        Assert.Equal([3L, 17L], train.CategoryIds);
        Assert.Equal(["cat", "dog"], train.ClassNames);
        Assert.Equal(6, train.SkippedAnnotations);
        foreach (var (id, what) in new[] { (3, "polygon"), (4, "outside"), (5, "unknown category_id 99"), (6, "category_id"), (7, "RLE size"), (10, "1120 pixels") })
            Assert.Contains(train.Warnings, w => w.Contains($"annotation id {id}") && w.Contains(what));
        var kept = train.InstancesOf(5);
        Assert.Equal([1L, 2L, 8L, 9L], kept.Select(i => i.AnnotationId));
        Assert.Equal([1, 0, 1, 1], kept.Select(i => i.Class));
        Assert.Equal([2.0, 3, 12, 11], kept[0].Box);                                  // x, y, w, h → x1, y1, x2, y2
        Assert.Single(((PolygonSegmentation)kept[2].Segmentation).Polygons);
        // Training drops image 9 (no annotations); evaluation keeps it.
        Assert.Equal([5L], train.Images.Select(i => i.Id));
        var val = CocoDetectionDataset.Open(json, dir.File("images"), training: false);
        Assert.Equal([5L, 9L], val.Images.Select(i => i.Id));
    }

    [Fact]
    public void Strict_rejects_the_first_malformed_annotation_naming_it()
    {
        using var dir = TestPaths.Temp();
        var json = WriteSet(dir, Malformed());
        var e = Assert.Throws<CocoFormatException>(() => CocoDetectionDataset.Open(json, dir.File("images"), training: true, strict: true));
        Assert.Contains("annotation id 6", e.Message);                                  // parsing comes first: 6 lacks category_id
        Assert.Contains("category_id", e.Message);
        // Without it, the first check that fails is annotation 3's polygon.
        json = WriteSet(dir, Malformed().Where(a => a["id"]!.ToJsonString() != "6").ToArray());
        e = Assert.Throws<CocoFormatException>(() => CocoDetectionDataset.Open(json, dir.File("images"), training: true, strict: true));
        Assert.Contains("annotation id 3", e.Message);
    }

    [Fact]
    public void Images_with_only_crowd_regions_are_dropped_from_training_and_crowds_never_become_targets()
    {
        using var dir = TestPaths.Temp();
        var json = WriteSet(dir, Ann(1, crowd: 1, seg: Rle(30, 40, new JsonArray(0, 40, 1160))));
        Assert.Empty(CocoDetectionDataset.Open(json, dir.File("images"), training: true).Images);
        json = WriteSet(dir, Ann(1, crowd: 1, seg: Rle(30, 40, new JsonArray(0, 40, 1160))), Ann(2));
        var data = CocoDetectionDataset.Open(json, dir.File("images"), training: true);
        var sample = new DetPipeline(Size: 64, MinScale: 1, MaxScale: 1, Flip: false).Train(data.Load(0), new Random(0));
        Assert.Equal([1L], sample.Classes);
    }

    [Fact]
    public void Large_scale_jitter_resizes_crops_pads_with_128_and_recomputes_boxes_from_the_masks()
    {
        using var dir = TestPaths.Temp();
        // Polygon 2..12 × 3..11 rasterises (pycocotools) to columns 2..11 and rows 3..10 of the 40×30 image.
        var json = WriteSet(dir, Ann(1));
        var data = CocoDetectionDataset.Open(json, dir.File("images"), training: true);
        // Scale fixed at 1: the image fits a 64 square at min(64/30, 64/40) = 1.6 → 64×48, padded below.
        var p = new DetPipeline(Size: 64, MinScale: 1, MaxScale: 1, Flip: false);
        var s = p.Train(data.Load(0), new Random(1));
        Assert.Equal(1.6, s.Scale, 12);
        Assert.Equal(64 * 64 * 3, s.Pixels.Length);
        Assert.Equal(10, s.Pixels[(47 * 64 + 63) * 3]);                                 // last image row
        Assert.Equal(128, s.Pixels[(48 * 64 + 0) * 3]);                                 // first padding row
        Assert.Equal(1, s.InstanceCount);
        // Nearest resize by 1.6 of columns 2..11, rows 3..10: output x with floor(x / 1.6) in 2..11 → 4..19; rows 5..17.
        Assert.Equal([4f, 5, 20, 18], s.Boxes);
        Assert.Equal(16 * 13, s.Masks.Count(b => b != 0));
        // Flipped (the flip comes after the crop): the box mirrors in the 64-wide canvas and the padding moves left.
        var flipped = new DetPipeline(Size: 64, MinScale: 2, MaxScale: 2, Flip: true);
        for (int seed = 0; seed < 20; seed++)
        {
            var f = flipped.Train(data.Load(0), new Random(seed));
            Assert.True(f.InstanceCount <= 1);
            for (int i = 0; i < f.InstanceCount; i++)
            {
                // Every box is exactly the bounds of its mask.
                var m = f.Masks.AsSpan(i * 64 * 64, 64 * 64).ToArray();
                var xs = Enumerable.Range(0, 64 * 64).Where(k => m[k] != 0).Select(k => k % 64).ToArray();
                var ys = Enumerable.Range(0, 64 * 64).Where(k => m[k] != 0).Select(k => k / 64).ToArray();
                Assert.Equal([xs.Min(), ys.Min(), xs.Max() + 1, ys.Max() + 1], f.Boxes.Skip(4 * i).Take(4).Select(v => (int)v));
            }
        }
    }

    [Fact]
    public void The_test_transform_makes_the_longer_side_the_input_size()
    {
        using var dir = TestPaths.Temp();
        var json = WriteSet(dir, Ann(1));
        var data = CocoDetectionDataset.Open(json, dir.File("images"), training: false);
        var s = new DetPipeline(Size: 64).Test(data.Load(0));
        Assert.Equal(1.6, s.Scale, 12);                                                 // 40 → 64, 30 → 48
        Assert.Equal(10, s.Pixels[(47 * 64 + 63) * 3]);
        Assert.Equal(128, s.Pixels[(48 * 64 + 63) * 3]);
        Assert.Equal((30, 40), (s.Height, s.Width));
    }

    [Fact]
    public void An_image_whose_size_disagrees_with_the_json_is_a_bad_sample_naming_the_file()
    {
        using var dir = TestPaths.Temp();
        var json = WriteSet(dir, Ann(1));
        using (var img = new Image<Rgb24>(41, 30)) img.SaveAsPng(Path.Combine(dir.File("images"), "a.png"));
        var data = CocoDetectionDataset.Open(json, dir.File("images"), training: true);
        var e = Assert.Throws<ConvMAE.Data.BadSampleException>(() => data.Load(0));
        Assert.Contains("a.png", e.Message);
        Assert.Contains("41×30", e.Message);
    }

    [Fact]
    public void The_generated_dataset_reads_back_cleanly_with_every_annotation_format()
    {
        using var dir = TestPaths.Temp();
        var root = dir.File("coco");
        var o = new CocoDemoOptions(Seed: 4, Train: 40, Val: 10, MinSide: 64, MaxSide: 80);
        Assert.True(CocoDemoDataset.Generate(root, o));
        Assert.False(CocoDemoDataset.Generate(root, o));                                 // current: nothing to do
        var json = Path.Combine(root, "annotations", "instances_train2017.json");
        var data = CocoDetectionDataset.Open(json, Path.Combine(root, "train2017"), training: false, strict: true);
        Assert.Equal([1L, 3L, 7L, 12L], data.CategoryIds);
        Assert.Equal(40, data.Count);
        var all = data.Images.SelectMany(i => data.InstancesOf(i.Id)).ToList();
        Assert.Contains(all, i => i.Segmentation is PolygonSegmentation);
        Assert.Contains(all, i => i.Segmentation is RleSegmentation { Compressed: not null });
        Assert.Contains(all, i => i.Segmentation is RleSegmentation { Counts: not null } && !i.IsCrowd);
        Assert.Contains(all, i => i.IsCrowd);
        Assert.Contains(data.Images, i => data.InstancesOf(i.Id).Count == 0);
        // Every stored area is the area of the stored mask, and the box is the mask's box (COCO's own invariants).
        foreach (var a in data.Instances.Annotations)
        {
            var im = data.Instances.Images.First(i => i.Id == a.ImageId);
            var rle = CocoMasks.ToRle(a.Segmentation!, im.Height, im.Width);
            Assert.Equal(a.Area!.Value, rle.Area());
            Assert.Equal(a.Bbox, rle.ToBbox());
        }
    }
}
