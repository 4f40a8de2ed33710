using ConvMAE.Env;
using Xunit;

namespace ConvMAE.Tests.Support;

/// <summary>The kit's command line as users run it (the built binary beside the tests), for integration tests.</summary>
public static class KitCli
{
    public static readonly string Path = System.IO.Path.Combine(AppContext.BaseDirectory, "ConvMAE.Cli");

    /// <summary>Runs <c>convmae ARGS</c> and asserts it exits 0, showing its output when it does not.</summary>
    public static Proc.Result Run(params string[] args)
    {
        var r = Proc.Run(Path, args, timeout: TimeSpan.FromMinutes(5));
        Assert.True(r.ExitCode == 0, $"convmae {string.Join(' ', args)}:\n{r.Combined}");
        return r;
    }

    /// <summary>Runs <c>convmae ARGS</c> and returns whatever it did (for tests of failures).</summary>
    public static Proc.Result RunAllowingFailure(params string[] args) => Proc.Run(Path, args, timeout: TimeSpan.FromMinutes(5));
}
