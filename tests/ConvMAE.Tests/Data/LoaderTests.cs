using ConvMAE.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Data;

public class LoaderTests
{
    static ImageLoader Loader(string root, int workers, bool strict = false, int batch = 4) =>
        new(ImageFolder.Open(root), new PretrainTransform(32), new LoaderOptions(batch, Shuffle: true, DropLast: false, Seed: 3,
                                                                                  Workers: workers, Strict: strict));

    [Fact]
    public void Batches_do_not_depend_on_worker_count_and_resume_mid_epoch_exactly()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 3, perClass: 5);
        var one = Loader(dir.Path, workers: 1).Epoch(1).ToList();
        var four = Loader(dir.Path, workers: 4).Epoch(1).ToList();
        Assert.Equal(4, one.Count);                       // 15 samples, batch 4, last batch kept
        Assert.Equal(3, one[^1].Count);
        for (int b = 0; b < one.Count; b++)
        {
            Assert.Equal(one[b].Pixels, four[b].Pixels);
            Assert.Equal(one[b].Labels, four[b].Labels);
        }
        var resumed = Loader(dir.Path, workers: 2).Epoch(1, startBatch: 2).ToList();
        Assert.Equal(2, resumed.Count);
        Assert.Equal(one[2].Pixels, resumed[0].Pixels);
        Assert.Equal(one[3].SampleIndices, resumed[1].SampleIndices);

        var otherEpoch = Loader(dir.Path, workers: 1).Epoch(2).ToList();
        Assert.NotEqual(one[0].SampleIndices, otherEpoch[0].SampleIndices);
        // Every sample is visited once per epoch.
        Assert.Equal(Enumerable.Range(0, 15), one.SelectMany(b => b.SampleIndices).Order());
    }

    [Fact]
    public void Prefetched_batches_equal_batches_decoded_on_demand()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 3, perClass: 5);
        var folder = ImageFolder.Open(dir.Path);
        var onDemand = Loader(dir.Path, workers: 2).Epoch(4).ToList();
        var prefetched = new ImageLoader(folder, new PretrainTransform(32),
            new LoaderOptions(4, Shuffle: true, DropLast: false, Seed: 3, Workers: 2, Prefetch: 3)).Epoch(4).ToList();
        Assert.Equal(onDemand.Count, prefetched.Count);
        for (int b = 0; b < onDemand.Count; b++) Assert.Equal(onDemand[b].Pixels, prefetched[b].Pixels);
    }

    [Fact]
    public void A_corrupt_image_is_skipped_and_counted_unless_strict()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 4);
        var bad = dir.File("class1/img2.JPEG");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..40]);
        var loader = Loader(dir.Path, workers: 2);
        var batches = loader.Epoch(0).ToList();
        Assert.Equal(7, batches.Sum(b => b.Count));
        Assert.Equal(1, loader.SkippedImages);
        Assert.Contains(loader.DrainWarnings(), w => w.Contains("img2.JPEG"));

        var strict = Loader(dir.Path, workers: 2, strict: true);
        var e = Assert.Throws<BadImageException>(() => strict.Epoch(0).ToList());
        Assert.Contains("img2.JPEG", e.Message);
    }

    [Fact]
    public void A_batch_with_no_readable_image_names_the_first_and_a_batch_of_one_comes_out_empty()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 2);
        foreach (var f in Directory.GetFiles(dir.Path, "*.JPEG", SearchOption.AllDirectories)) File.WriteAllBytes(f, [1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => Loader(dir.Path, workers: 2).Epoch(0).ToList());
        Assert.Contains("none of the 4 samples of batch 0 of epoch 0 could be read from", e.Message);
        Assert.Contains(".JPEG", e.Message);

        var ofOne = Loader(dir.Path, workers: 1, batch: 1);
        var batches = ofOne.Epoch(0).ToList();
        Assert.Equal(4, batches.Count);
        Assert.All(batches, b => Assert.Equal(0, b.Count));
        Assert.Equal(4, ofOne.SkippedImages);
    }

    [Fact]
    public void Batch_tensor_is_normalised_NCHW_with_labels()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 2);
        var host = Loader(dir.Path, workers: 1, batch: 4).Epoch(0).First();
        using var batch = Batch.FromHost(host);
        Assert.Equal([4L, 3, 32, 32], batch.Images.shape);
        Assert.Equal(host.Labels, batch.Labels.data<long>().ToArray());
        // Pixel (x=5, y=7) of sample 1, channel 2, by hand: (v/255 - mean) / std.
        byte v = host.Pixels[1 * 32 * 32 * 3 + (7 * 32 + 5) * 3 + 2];
        Assert.Equal((v / 255f - 0.406f) / 0.225f, batch.Images[1, 2, 7, 5].item<float>(), 4);
    }

    [Fact]
    public void Random_resized_crop_respects_scale_and_ratio()
    {
        var rng = new Random(0);
        for (int i = 0; i < 500; i++)
        {
            var r = RandomResizedCrop.Sample(120, 90, rng, 0.2, 1.0);
            Assert.InRange(r.X, 0, 120 - r.Width);
            Assert.InRange(r.Y, 0, 90 - r.Height);
            double area = (double)r.Width * r.Height / (120 * 90), ratio = (double)r.Width / r.Height;
            Assert.InRange(area, 0.19, 1.0);
            Assert.InRange(ratio, 0.74, 1.35);
        }
    }

    [Fact]
    public void Eval_transform_resizes_the_shorter_side_then_centre_crops()
    {
        // 64 / 0.875 = 73: a 146x100 image becomes 106x73, centre 64x64. A left-half-red / right-half-blue image
        // keeps both colours at the crop's far left and right.
        using var img = new Image<Rgb24>(146, 100);
        for (int y = 0; y < 100; y++) for (int x = 0; x < 146; x++) img[x, y] = x < 73 ? new Rgb24(255, 0, 0) : new Rgb24(0, 0, 255);
        var crop = new EvalTransform(64).Apply(img, new Random(0));
        Assert.Equal((64, 64), (crop.Width, crop.Height));
        Assert.True(crop[0, 32, 0] > 200 && crop[0, 32, 2] < 50);
        Assert.True(crop[63, 32, 2] > 200 && crop[63, 32, 0] < 50);
    }
}
