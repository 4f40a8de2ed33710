using ConvMAE.Data;
using ConvMAE.DataPrep;
using Xunit;

namespace ConvMAE.Tests.DataPrep;

public class DataPrepTests
{
    [Fact]
    public void Demo_dataset_is_ImageNet_layout_deterministic_and_idempotent()
    {
        using var dir = TestPaths.Temp();
        var o = new DemoDatasetOptions(Seed: 4, TrainPerClass: 3, ValPerClass: 2, Size: 48);
        Assert.True(DemoDataset.Generate(dir.File("a"), o));
        Assert.False(DemoDataset.Generate(dir.File("a"), o));                 // current: nothing to do
        Assert.True(DemoDataset.Generate(dir.File("b"), o));
        var train = ImageFolder.OpenSplit(dir.File("a"), "train");
        Assert.Equal(Shapes.Names, train.Classes);
        Assert.Equal(30, train.Count);
        Assert.Equal(20, ImageFolder.OpenSplit(dir.File("a"), "val").Count);
        foreach (var (path, _) in train.Samples)
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(path.Replace(dir.File("a"), dir.File("b"))));
        Assert.True(DemoDataset.Generate(dir.File("a"), o with { Seed = 5 }));   // other options replace it
        Assert.NotEqual(File.ReadAllBytes(train.Samples[0].Path), File.ReadAllBytes(train.Samples[0].Path.Replace(dir.File("a"), dir.File("b"))));
        Assert.Empty(Directory.GetDirectories(dir.Path, "*.partial-*"));
    }

    [Fact]
    public void Demo_generator_refuses_to_replace_a_folder_it_did_not_make()
    {
        using var dir = TestPaths.Temp();
        File.WriteAllText(dir.File("precious.txt"), "keep me");
        var e = Assert.Throws<IOException>(() => DemoDataset.Generate(dir.Path, new DemoDatasetOptions(TrainPerClass: 1, ValPerClass: 1, Size: 32)));
        Assert.Contains(dir.Path, e.Message);
        Assert.True(File.Exists(dir.File("precious.txt")));
    }

    [Fact]
    public void ImageNet_subset_is_class_balanced_links_and_names_bad_layouts()
    {
        using var dir = TestPaths.Temp();
        var src = dir.File("imagenet");
        foreach (var split in new[] { "train", "val" })
            foreach (var wnid in new[] { "n01", "n02", "n03", "n04" })
            {
                Directory.CreateDirectory(Path.Combine(src, split, wnid));
                for (int i = 0; i < (split == "train" ? 6 : 3); i++)
                    File.WriteAllText(Path.Combine(src, split, wnid, $"{wnid}_{i}.JPEG"), "x");
            }
        var (classes, train, val) = ImageNetSubset.Build(src, dir.File("sub"), new SubsetOptions(Classes: 2, TrainPerClass: 4, ValPerClass: 2, Seed: 1));
        Assert.Equal((2, 8, 4), (classes, train, val));
        var chosen = Directory.GetDirectories(dir.File("sub/train")).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(chosen, Directory.GetDirectories(dir.File("sub/val")).Select(Path.GetFileName).Order().ToList());
        foreach (var c in chosen)
        {
            var files = Directory.GetFiles(Path.Combine(dir.File("sub/train"), c!));
            Assert.Equal(4, files.Length);
            Assert.All(files, f => Assert.NotNull(new FileInfo(f).LinkTarget));
        }
        var missing = Assert.Throws<DirectoryNotFoundException>(() => ImageNetSubset.Build(dir.File("nowhere"), dir.File("x"), new SubsetOptions()));
        Assert.Contains("nowhere", missing.Message);
        var tooMany = Assert.Throws<ArgumentException>(() => ImageNetSubset.Build(src, dir.File("y"), new SubsetOptions(Classes: 9)));
        Assert.Contains("only 4 classes", tooMany.Message);
    }
}
