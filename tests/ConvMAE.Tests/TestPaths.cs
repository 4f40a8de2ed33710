namespace ConvMAE.Tests;

/// <summary>Locations tests share: the checkout (the folder holding ConvMAE.Notebooks.sln) and scratch folders.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "ConvMAE.Notebooks.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("ConvMAE.Notebooks.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>$CONVMAE_PARITY_DIR, else ../shared/parity seen from the repository root.</summary>
    public static string ParityDir => FromEnv("CONVMAE_PARITY_DIR", "parity");

    /// <summary>$CONVMAE_BACKBONE_PARITY_DIR (or the older $CONVMAE_PARITY_BACKBONES_DIR), else ../shared/parity-backbones
    /// seen from the repository root.</summary>
    public static string BackbonesDir =>
        Environment.GetEnvironmentVariable("CONVMAE_BACKBONE_PARITY_DIR") is { Length: > 0 } dir ? Path.GetFullPath(dir)
        : FromEnv("CONVMAE_PARITY_BACKBONES_DIR", "parity-backbones");

    static string FromEnv(string variable, string sharedFolder) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } env
            ? Path.GetFullPath(env)
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", sharedFolder));

    /// <summary>A new empty folder, deleted when disposed.</summary>
    public static TempDir Temp(string prefix = "convmae-test-") => new(Directory.CreateTempSubdirectory(prefix).FullName);

    public sealed record TempDir(string Path) : IDisposable
    {
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
    }
}
