using ConvMAE.Data;
using ConvMAE.DataPrep;
using SixLabors.ImageSharp;
using Xunit;

namespace ConvMAE.Tests.Data;

public class DecodedImageCacheTests
{
    static ImageLoader Loader(string root, long budgetBytes) =>
        new(ImageFolder.Open(root), new PretrainTransform(32),
            new LoaderOptions(4, Shuffle: true, DropLast: false, Seed: 3, Workers: 2), budgetBytes);

    static void AssertSameBatches(IReadOnlyList<HostBatch> expected, IReadOnlyList<HostBatch> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int b = 0; b < expected.Count; b++)
        {
            Assert.Equal(expected[b].SampleIndices, actual[b].SampleIndices);
            Assert.Equal(expected[b].Labels, actual[b].Labels);
            Assert.Equal(expected[b].Pixels, actual[b].Pixels);
        }
    }

    [Fact]
    public void Later_epochs_come_from_memory_and_equal_the_batches_decoded_every_time()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 3, perClass: 5, size: 40);
        var uncached = Loader(dir.Path, budgetBytes: 0);
        Assert.Null(uncached.Cache);
        var expected = new[] { uncached.Epoch(0).ToList(), uncached.Epoch(1).ToList() };

        var cached = Loader(dir.Path, budgetBytes: 1 << 20);
        Assert.NotNull(cached.Cache);
        Assert.Equal(15L * 40 * 40 * 3, cached.Cache!.EstimatedBytes);
        AssertSameBatches(expected[0], cached.Epoch(0).ToList());
        Assert.Equal(15L * 40 * 40 * 3, cached.Cache.UsedBytes);   // every image kept after one epoch

        // With every file overwritten by junk, epoch 1 can only come from memory: the same batches as decoding the
        // files did, where a loader without the kept images finds nothing readable.
        foreach (var f in Directory.GetFiles(dir.Path, "*.JPEG", SearchOption.AllDirectories)) File.WriteAllBytes(f, [1, 2, 3]);
        AssertSameBatches(expected[1], cached.Epoch(1).ToList());
        Assert.Equal(0, cached.SkippedImages);
        Assert.Throws<InvalidDataException>(() => Loader(dir.Path, budgetBytes: 0).Epoch(1).First());
    }

    [Fact]
    public void A_folder_larger_than_the_budget_is_decoded_every_time()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 4, size: 40);   // 8 × 4,800 bytes decoded
        Assert.Null(Loader(dir.Path, budgetBytes: 8 * 4800 - 1).Cache);
        Assert.NotNull(Loader(dir.Path, budgetBytes: 8 * 4800).Cache);
        Assert.Null(Loader(dir.Path, budgetBytes: 0).Cache);
    }

    [Fact]
    public void Images_past_the_budget_are_not_kept_when_the_estimate_was_short()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 10, size: 40);
        // The estimate reads 16 of the 20 headers (samples 0-3, 5-8, 10-13, 15-18): it misses the last image, made four
        // times larger here. Estimated 20 × 4,800 = 96,000 bytes fits a 100,000-byte budget; the images (19 × 4,800 +
        // 19,200 = 110,400) do not, so the cache stops at the budget and the rest is decoded every epoch.
        using (var image = DemoDataset.Render(Shapes.Names[1], 80, new Random(1), noiseStd: 20))
            image.SaveAsJpeg(dir.File("class1/img9.JPEG"));
        var loader = Loader(dir.Path, budgetBytes: 100_000);
        Assert.NotNull(loader.Cache);
        Assert.Equal(96_000, loader.Cache!.EstimatedBytes);
        loader.Epoch(0).ToList();
        Assert.InRange(loader.Cache.UsedBytes, 100_000 - 19_200 + 1, 100_000);
        AssertSameBatches(Loader(dir.Path, budgetBytes: 0).Epoch(1).ToList(), loader.Epoch(1).ToList());
    }

    [Fact]
    public void A_corrupt_image_is_never_kept_and_is_skipped_in_every_epoch()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 4);
        var bad = dir.File("class1/img2.JPEG");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..40]);
        var loader = Loader(dir.Path, budgetBytes: 1 << 20);
        Assert.NotNull(loader.Cache);
        Assert.Equal(7, loader.Epoch(0).Sum(b => b.Count));
        Assert.Equal(7, loader.Epoch(1).Sum(b => b.Count));
        Assert.Equal(2, loader.SkippedImages);
        Assert.Equal(2, loader.DrainWarnings().Count(w => w.Contains("img2.JPEG")));
    }
}
