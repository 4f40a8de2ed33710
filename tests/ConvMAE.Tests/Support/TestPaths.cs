namespace ConvMAE.Tests.Support;

/// <summary>Where the repository and the parity fixtures are.</summary>
internal static class TestPaths
{
    /// <summary>The folder holding ConvMAE.Notebooks.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "ConvMAE.Notebooks.sln"))) return d.FullName;
            throw new DirectoryNotFoundException($"no ConvMAE.Notebooks.sln above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>$CONVMAE_PARITY_DIR, else ../shared/parity seen from the repository root.</summary>
    public static string ParityDir =>
        Environment.GetEnvironmentVariable("CONVMAE_PARITY_DIR") is { Length: > 0 } env
            ? Path.GetFullPath(env)
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "parity"));
}
