using ConvMAE.Env;
using Xunit;

namespace ConvMAE.Tests.Foundation;

/// <summary>The libstdc++ edit, on copies of the real libLibTorchSharp.so from the NuGet cache. Loading is tried in a
/// child process (convmae-env can-load): a second libtorch in the test host would abort it.</summary>
public class GlibcxxCompatTests
{
    static readonly string NativeDir = Path.Combine(Repo.NuGetPackages(), "torchsharp", Versions.TorchSharp, "runtimes", "linux-x64", "native");

    /// <summary>The file as shipped: the .orig backup set-up keeps, or the cache copy where no edit was made.</summary>
    static string Shipped()
    {
        var orig = Path.Combine(NativeDir, "libLibTorchSharp.so.orig");
        return File.Exists(orig) ? orig : Path.Combine(NativeDir, "libLibTorchSharp.so");
    }

    /// <summary>Copies the shipped wrapper into a temp folder beside links to the libtorch it needs ($ORIGIN runpath).</summary>
    static string CopyWithDependencies(TestPaths.TempDir dir)
    {
        var libtorch = Directory.GetDirectories(Path.Combine(Repo.NuGetPackages(), "libtorch-cpu-linux-x64"))
                                .Select(d => Path.Combine(d, "runtimes", "linux-x64", "native")).First(Directory.Exists);
        foreach (var so in Directory.GetFiles(libtorch, "*.so*"))
            File.CreateSymbolicLink(dir.File(Path.GetFileName(so)), so);
        var copy = dir.File("libLibTorchSharp.so");
        File.Copy(Shipped(), copy);
        return copy;
    }

    [Fact]
    public void Edit_makes_the_shipped_file_load_and_a_second_run_changes_nothing()
    {
        using var dir = TestPaths.Temp();
        var copy = CopyWithDependencies(dir);
        if (GlibcxxCompat.SystemProvidesVersion())
        {
            // Newer systems: the file must be left exactly as shipped.
            var before = File.ReadAllBytes(copy);
            Assert.Equal(CompatResult.SystemProvidesVersion, GlibcxxCompat.Apply(copy));
            Assert.Equal(before, File.ReadAllBytes(copy));
            return;
        }
        Assert.True(GlibcxxCompat.NeedsEdit(copy));
        var shipped = Setup.CanLoad(copy);
        Assert.False(shipped.Loads, "the shipped file should not load on this libstdc++");
        Assert.Contains(GlibcxxCompat.Version, shipped.Message);

        Assert.Equal(CompatResult.Patched, GlibcxxCompat.Apply(copy));
        Assert.True(File.Exists(copy + ".orig"));
        Assert.Equal(File.ReadAllBytes(Shipped()), File.ReadAllBytes(copy + ".orig"));
        var after = Setup.CanLoad(copy);
        Assert.True(after.Loads, "the edited file should load: " + after.Message);

        // Exactly three bytes differ: symbol binding, its version index, the requirement's flags.
        var diff = File.ReadAllBytes(copy).Zip(File.ReadAllBytes(Shipped())).Count(p => p.First != p.Second);
        Assert.InRange(diff, 2, 3);

        var edited = File.ReadAllBytes(copy);
        var stamp = File.GetLastWriteTimeUtc(copy);
        Assert.Equal(CompatResult.AlreadyCompatible, GlibcxxCompat.Apply(copy));
        Assert.Equal(edited, File.ReadAllBytes(copy));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(copy));
    }

    [Fact]
    public void A_file_that_already_loads_is_never_touched()
    {
        using var dir = TestPaths.Temp();
        var copy = CopyWithDependencies(dir);
        var before = File.ReadAllBytes(copy);
        var stamp = File.GetLastWriteTimeUtc(copy);
        // Where the system libstdc++ has the version, the shipped file loads as it is.
        Assert.Equal(CompatResult.SystemProvidesVersion, GlibcxxCompat.Apply(copy, systemProvidesVersion: true));
        Assert.Equal(before, File.ReadAllBytes(copy));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(copy));
        Assert.False(File.Exists(copy + ".orig"));

        // A library that does not require the version (libc10.so) is left alone as well.
        var c10 = dir.File("c10-copy.so");
        File.Copy(dir.File("libc10.so"), c10);
        var c10Bytes = File.ReadAllBytes(c10);
        Assert.Equal(CompatResult.NotReferenced, GlibcxxCompat.Apply(c10, systemProvidesVersion: false));
        Assert.Equal(c10Bytes, File.ReadAllBytes(c10));
    }

    [Fact]
    public void A_file_that_is_not_ELF_is_refused_with_its_name()
    {
        using var dir = TestPaths.Temp();
        var bogus = dir.File("libLibTorchSharp.so");
        File.WriteAllText(bogus, "not a shared library");
        var e = Assert.Throws<InvalidDataException>(() => GlibcxxCompat.Apply(bogus, systemProvidesVersion: false));
        Assert.Contains(bogus, e.Message);
        Assert.Contains("not an ELF file", e.Message);
    }
}
