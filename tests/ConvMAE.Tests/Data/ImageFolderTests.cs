using ConvMAE.Data;
using Xunit;

namespace ConvMAE.Tests.Data;

public class ImageFolderTests
{
    [Fact]
    public void Classes_are_sorted_folder_names_and_labels_their_index()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 3, perClass: 2);
        Directory.Move(dir.File("class0"), dir.File("zebra"));
        var f = ImageFolder.Open(dir.Path);
        Assert.Equal(["class1", "class2", "zebra"], f.Classes);
        Assert.Equal(6, f.Count);
        Assert.All(f.Samples.Where(s => s.Path.Contains("/zebra/")), s => Assert.Equal(2, s.Label));
        Assert.Empty(f.Warnings);
    }

    [Fact]
    public void Missing_path_and_empty_class_folder_are_named()
    {
        using var dir = TestPaths.Temp();
        var missing = dir.File("nowhere");
        var e1 = Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Open(missing));
        Assert.Contains(missing, e1.Message);

        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 1);
        Directory.CreateDirectory(dir.File("empty_class"));
        var e2 = Assert.Throws<InvalidDataException>(() => ImageFolder.Open(dir.Path));
        Assert.Contains("empty_class", e2.Message);
        Assert.Contains("empty class folder", e2.Message);

        var e3 = Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.OpenSplit(dir.Path, "train"));
        Assert.Contains("train", e3.Message);
    }

    [Fact]
    public void A_non_image_file_is_a_named_warning_or_with_strict_an_error()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 2, perClass: 2);
        File.WriteAllText(dir.File("class1/notes.txt"), "labels were checked by hand");
        var f = ImageFolder.Open(dir.Path);
        Assert.Equal(4, f.Count);
        var w = Assert.Single(f.Warnings);
        Assert.Contains("notes.txt", w);
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Open(dir.Path, strict: true));
        Assert.Contains("notes.txt", e.Message);
    }

    [Fact]
    public void Bad_image_files_get_one_line_errors_naming_them()
    {
        using var dir = TestPaths.Temp();
        DataTestImages.MakeFolder(dir.Path, classes: 1, perClass: 1, size: 64);
        var good = dir.File("class0/img0.JPEG");
        var bytes = File.ReadAllBytes(good);

        var empty = dir.File("empty.JPEG");
        File.WriteAllBytes(empty, []);
        var text = dir.File("text.JPEG");
        File.WriteAllText(text, "this is not a JPEG");
        var truncated = dir.File("truncated.JPEG");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 3)]);
        var cutInScan = dir.File("cut_in_scan.JPEG");      // ImageSharp alone would decode this, greying the rest
        File.WriteAllBytes(cutInScan, bytes[..(bytes.Length * 9 / 10)]);
        var corrupt = dir.File("corrupt.png");
        File.WriteAllBytes(corrupt, [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0, 0, 13, 1, 2, 3]);

        foreach (var (path, problem) in new[] { (empty, "empty file"), (text, "not an image"), (truncated, "truncated"), (cutInScan, "truncated"), (corrupt, "corrupt") })
        {
            var e = Assert.Throws<BadImageException>(() => ImageDecoding.Load(path).Dispose());
            Assert.StartsWith(path + ":", e.Message);
            Assert.Contains(problem, e.Message);
            Assert.DoesNotContain("\n", e.Message.Split(" (")[0]);
        }
        using var ok = ImageDecoding.Load(good);
        Assert.Equal(64, ok.Width);
    }
}
