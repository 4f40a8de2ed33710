using ConvMAE.Env;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Foundation;

/// <summary>
/// Every process of the kit maps only TorchSharp's own libtorch: the NuGet package's files, or the copies a build
/// placed beside the program. Checked from /proc/self/maps, in this test host and in child processes started with no
/// LD_LIBRARY_PATH (a fresh machine has no system libtorch to fall back on) and with one that names decoy libraries
/// (what a system copy or a Python torch on the path looks like to the loader: LD_LIBRARY_PATH is searched even
/// before the system's folders, so resisting it covers them too).
/// </summary>
[Trait("Category", "Integration")]
public class NativeLoadTests
{
    static readonly string Packages = ConvMAE.Env.LibtorchFiles.RealPath(Repo.NuGetPackages());
    static readonly string Bin = Path.Combine(TestPaths.RepoRoot, "artifacts", "bin");
    static readonly string Cli = Path.Combine(Bin, "ConvMAE.Cli", "release", "ConvMAE.Cli");
    static readonly string Env = Path.Combine(Bin, "ConvMAE.Environment", "release", "convmae-env");
    static readonly string CacheWrapper = Path.Combine(Repo.NuGetPackages(), "torchsharp", Versions.TorchSharp, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
    static readonly string[] Expected = ["libc10.so", "libtorch_cpu.so", "libtorch.so", "libLibTorchSharp.so"];

    static bool Under(string path, string dir) => path.StartsWith(dir.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>Paths of the "mapped" lines a child printed.</summary>
    static List<string> MappedLines(string output) =>
        output.Split('\n').Where(l => l.StartsWith("mapped ", StringComparison.Ordinal))
              .Select(l => l["mapped ".Length..].Trim()).ToList();

    static void AssertOnlyFrom(IReadOnlyCollection<string> mapped, string output, params string[] dirs)
    {
        foreach (var name in Expected)
            Assert.True(mapped.Any(p => Path.GetFileName(p) == name), $"{name} is not mapped:\n{output}");
        foreach (var p in mapped)
            Assert.True(dirs.Any(d => Under(p, d)), $"{p} comes from outside {string.Join(" and ", dirs)}:\n{output}");
    }

    /// <summary>Empty shared objects with libtorch's sonames, in a folder of their own.</summary>
    static string Decoys(TestPaths.TempDir dir)
    {
        var cc = Proc.Which("cc") ?? Proc.Which("gcc") ?? throw new InvalidOperationException("no C compiler (cc) to build decoy libraries");
        File.WriteAllText(dir.File("decoy.c"), "int convmae_decoy_marker(void) { return 1; }\n");
        foreach (var so in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so", "torch_cpu.so" })
            Proc.Check(cc, ["-shared", "-fPIC", $"-Wl,-soname,{so}", "-o", dir.File(so), dir.File("decoy.c")]);
        return dir.Path;
    }

    static Dictionary<string, string> NoLibraryPath() => new() { ["LD_LIBRARY_PATH"] = "" };

    [Fact]
    public void The_test_host_maps_only_the_package_libtorch_or_its_copy_in_this_build()
    {
        using var x = ones(3, 3);
        using var y = x.matmul(x);
        Assert.Equal(3f, y[0, 0].item<float>());
        var mapped = File.ReadAllLines("/proc/self/maps").Select(l => l.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
                         .Where(f => f.Length == 6).Select(f => f[5].Trim())
                         .Where(p => Path.GetFileName(p) is var n && (n.StartsWith("libtorch") || n.StartsWith("libc10") || n.StartsWith("libLibTorchSharp")))
                         .Distinct().ToList();
        var here = ConvMAE.Env.LibtorchFiles.RealPath(AppContext.BaseDirectory);
        AssertOnlyFrom(mapped, string.Join("\n", mapped), Packages, here);
        Assert.Empty(NativeTorch.ForeignMapped());
        Assert.NotNull(NativeTorch.LibtorchDir);
    }

    [Fact]
    public void The_CLI_computes_with_its_own_libtorch_with_no_library_path()
    {
        var r = Proc.Run(Cli, ["info", "--native"], env: NoLibraryPath());
        Assert.True(r.ExitCode == 0, r.Combined);
        Assert.Contains("[[1,2],[3,4]]² = [[7,10],[15,22]]", r.Stdout);
        AssertOnlyFrom(MappedLines(r.Stdout), r.Combined, ConvMAE.Env.LibtorchFiles.RealPath(Path.GetDirectoryName(Cli)!), Packages);
    }

    [Fact]
    public void The_CLI_ignores_decoy_libtorch_libraries_on_the_library_path()
    {
        using var dir = TestPaths.Temp();
        var decoys = Decoys(dir);
        var r = Proc.Run(Cli, ["info", "--native"], env: new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = decoys });
        Assert.True(r.ExitCode == 0, r.Combined);
        var mapped = MappedLines(r.Stdout);
        Assert.DoesNotContain(mapped, p => p.StartsWith(dir.Path, StringComparison.Ordinal));
        AssertOnlyFrom(mapped, r.Combined, ConvMAE.Env.LibtorchFiles.RealPath(Path.GetDirectoryName(Cli)!), Packages);
    }

    [Fact]
    public void The_set_up_load_check_loads_the_NuGet_cache_wrapper_with_the_package_libtorch()
    {
        // The copy notebook kernels load: its libtorch lives in another package folder, never beside it.
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(CacheWrapper)!, "libtorch_cpu.so")));
        var libtorchPackage = Path.Combine(Packages, "libtorch-cpu-linux-x64");
        foreach (var env in new[] { NoLibraryPath(), null })
        {
            using var dir = TestPaths.Temp();
            var vars = env ?? new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = Decoys(dir) };
            var r = Proc.Run(Env, ["can-load", CacheWrapper], env: vars);
            Assert.True(r.ExitCode == 0, $"LD_LIBRARY_PATH={vars["LD_LIBRARY_PATH"]}: {r.Combined}");
            Assert.StartsWith($"loads, with libtorch from {Path.Combine(Repo.NuGetPackages(), "libtorch-cpu-linux-x64")}", r.Stdout);
            var mapped = MappedLines(r.Stdout);
            AssertOnlyFrom(mapped, r.Combined, libtorchPackage, Path.Combine(Packages, "torchsharp"));
            Assert.Single(mapped, p => Path.GetFileName(p) == "libLibTorchSharp.so" && Under(p, Path.Combine(Packages, "torchsharp")));
        }
    }

    [Fact]
    public void A_foreign_libtorch_is_named_in_the_check_message()
    {
        var allowed = new[] { "/pkg/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native" };
        var maps = new[]
        {
            "7f0000000000-7f0000001000 r--p 00000000 fe:01 123 /pkg/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native/libc10.so",
            "7f0000001000-7f0000002000 r-xp 00001000 fe:01 124 /usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13",
            "7f0000002000-7f0000003000 r--p 00000000 fe:01 125 /usr/lib/x86_64-linux-gnu/libm.so.6",
            "7f0000003000-7f0000004000 rw-p 00000000 00:00 0 ",
        };
        var mapped = ConvMAE.Env.LibtorchFiles.MappedIn(maps);
        Assert.Equal(2, mapped.Count);   // libm and the anonymous mapping are not torch libraries
        var foreign = ConvMAE.Env.LibtorchFiles.Foreign(mapped, allowed);
        Assert.Equal(["/usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13"], foreign);
        var message = ConvMAE.Env.LibtorchFiles.ForeignMessage(foreign, allowed)!;
        Assert.Contains("/usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13", message);
        Assert.Contains("LD_LIBRARY_PATH", message);
        Assert.Null(ConvMAE.Env.LibtorchFiles.ForeignMessage([], allowed));
    }
}
