using ConvMAE.Env;
using ConvMAE.Tests.Support;
using Xunit;

namespace ConvMAE.Tests.Foundation;

/// <summary>
/// The CLI restarts itself once under glibc settings that keep freed memory (<see cref="HeapReuse"/>) for the commands
/// where that was measured to pay (detection, segmentation and video training, video evaluation, their benches) or
/// when asked, and leaves the allocator alone where the user chose otherwise. The restart must be invisible apart from the allocator: same arguments (spaces and
/// non-ASCII included), same output, same exit status.
/// </summary>
public class HeapReuseTests
{
    static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        key => vars.Where(v => v.Key == key).Select(v => v.Value).FirstOrDefault();

    static readonly string[] DetectTrain = ["detect", "train", "--data_path", "x"];

    [Fact]
    public void Downstream_training_restarts_by_default_and_the_rest_only_when_asked()
    {
        Assert.Equal(HeapReuse.Tunables, HeapReuse.RestartWith(Env(("PATH", "/bin")), glibc: true, DetectTrain));
        foreach (var args in new string[][] { ["bench", "detect", "--steps", "1"], ["segment", "train"], ["bench", "segment"],
                                                ["video", "pretrain"], ["video", "finetune"], ["video", "eval"], ["bench", "video"] })
            Assert.Equal(HeapReuse.Tunables, HeapReuse.RestartWith(Env(), glibc: true, args));
        foreach (var args in new string[][] { ["finetune"], ["bench", "finetune"], ["pretrain"], ["detect", "eval"], ["segment", "predict"], ["video", "extract-frames"], ["info"], Array.Empty<string>() })
        {
            Assert.Null(HeapReuse.RestartWith(Env(), glibc: true, args));
            Assert.Equal(HeapReuse.Tunables, HeapReuse.RestartWith(Env((HeapReuse.Variable, "kept")), glibc: true, args));
        }
        Assert.Null(HeapReuse.RestartWith(Env(), glibc: false, DetectTrain));                                        // musl, not Linux
        Assert.Null(HeapReuse.RestartWith(Env(("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")), glibc: true, DetectTrain));   // the user's own
        Assert.Null(HeapReuse.RestartWith(Env(("GLIBC_TUNABLES", "")), glibc: true, DetectTrain));                   // set empty: also theirs
        Assert.Null(HeapReuse.RestartWith(Env((HeapReuse.Variable, "default")), glibc: true, DetectTrain));          // opted out
        Assert.Null(HeapReuse.RestartWith(Env((HeapReuse.Variable, "kept"), ("CONVMAE_MALLOC_RESTARTED", "1")), glibc: true, DetectTrain));
        var e = Assert.Throws<ArgumentException>(() => HeapReuse.RestartWith(Env((HeapReuse.Variable, "fast")), glibc: true, DetectTrain));
        Assert.Contains("CONVMAE_MALLOC=fast", e.Message);
    }

    [Fact]
    public void Describes_each_setting()
    {
        Assert.StartsWith("freed memory kept", HeapReuse.Describe(Env(("GLIBC_TUNABLES", HeapReuse.Tunables)), glibc: true));
        Assert.Equal("glibc defaults (CONVMAE_MALLOC=default)", HeapReuse.Describe(Env((HeapReuse.Variable, "default")), glibc: true));
        Assert.Contains("the user's", HeapReuse.Describe(Env(("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")), glibc: true));
        Assert.Contains("left alone", HeapReuse.Describe(Env(), glibc: false));
        Assert.Contains("not restarted", HeapReuse.Describe(Env((HeapReuse.Variable, "kept")), glibc: true));
    }

    /// <summary>Runs the built CLI with GLIBC_TUNABLES and CONVMAE_MALLOC removed, then <paramref name="set"/> applied.</summary>
    static Proc.Result Cli(IEnumerable<string> args, params (string Key, string Value)[] set) =>
        Proc.Run(KitCli.Path, args, env: set.ToDictionary(v => v.Key, v => v.Value), timeout: TimeSpan.FromMinutes(2),
                 unset: ["GLIBC_TUNABLES", HeapReuse.Variable]);

    static string MemoryLine(string infoOutput) =>
        infoOutput.Split('\n').Single(l => l.StartsWith("Memory ", StringComparison.Ordinal))["Memory ".Length..].Trim();

    [Fact]
    [Trait("Category", "Integration")]
    public void The_cli_process_runs_under_the_settings_asked_for()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Equal($"freed memory kept for reuse (GLIBC_TUNABLES={HeapReuse.Tunables})",
                     MemoryLine(Cli(["info"], (HeapReuse.Variable, "kept")).Stdout));
        Assert.Equal("glibc defaults (CONVMAE_MALLOC=kept: freed memory kept for reuse)", MemoryLine(Cli(["info"]).Stdout));
        Assert.Equal("glibc defaults (CONVMAE_MALLOC=default)", MemoryLine(Cli(["info"], (HeapReuse.Variable, "default")).Stdout));
        Assert.Equal("GLIBC_TUNABLES=glibc.malloc.arena_max=4 (the user's)",
                     MemoryLine(Cli(["info"], ("GLIBC_TUNABLES", "glibc.malloc.arena_max=4")).Stdout));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void The_restart_keeps_arguments_output_and_exit_status()
    {
        if (!OperatingSystem.IsLinux()) return;
        var ok = Cli(["summary", "--model", "convmae_tiny_cpu"], (HeapReuse.Variable, "kept"));
        Assert.Equal(0, ok.ExitCode);
        Assert.StartsWith("convmae_tiny_cpu:", ok.Stdout);
        Assert.Equal(Cli(["summary", "--model", "convmae_tiny_cpu"], (HeapReuse.Variable, "default")).Stdout, ok.Stdout);

        // A preset name with a space and non-ASCII letters reaches the restarted process intact, and its failure too.
        var bad = Cli(["summary", "--model", "größer als base"], (HeapReuse.Variable, "kept"));
        var badDefault = Cli(["summary", "--model", "größer als base"], (HeapReuse.Variable, "default"));
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Equal(badDefault.ExitCode, bad.ExitCode);
        Assert.Contains("größer als base", bad.Combined);
        Assert.Equal(badDefault.Combined, bad.Combined);

        var typo = Cli(["info"], (HeapReuse.Variable, "fast"));
        Assert.NotEqual(0, typo.ExitCode);
        Assert.Contains("CONVMAE_MALLOC=fast: expected kept or default", typo.Combined);
    }
}
