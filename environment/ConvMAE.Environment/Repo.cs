namespace ConvMAE.Env;

/// <summary>Well-known locations of a checkout. Everything set-up installs lives under .tools/ (git-ignored),
/// so a clone is self-contained and several clones never disturb each other.</summary>
public sealed class Repo(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string Tools => Path.Combine(Root, ".tools");
    public string InteractiveTool => Path.Combine(Tools, "dotnet-interactive");
    public string JupyterPath => Path.Combine(Tools, "jupyter");
    public string PlotlyJs => Path.Combine(Tools, "plotly", $"plotly-{Versions.PlotlyJs}.min.js");
    public string Reports => Path.Combine(Root, "reports");
    public string Notebooks => Path.Combine(Root, "notebooks");

    /// <summary>The checkout containing <paramref name="start"/> (the folder holding ConvMAE.Notebooks.sln).</summary>
    public static Repo Find(string? start = null)
    {
        var dir = new DirectoryInfo(start ?? Directory.GetCurrentDirectory());
        for (; dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ConvMAE.Notebooks.sln"))) return new Repo(dir.FullName);
        // Fall back to the location of this program (artifacts/bin/... inside the checkout).
        for (dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ConvMAE.Notebooks.sln"))) return new Repo(dir.FullName);
        throw new DirectoryNotFoundException("ConvMAE.Notebooks.sln not found above " + (start ?? Directory.GetCurrentDirectory()));
    }

    /// <summary>The NuGet global packages folder (NUGET_PACKAGES, else ~/.nuget/packages).</summary>
    public static string NuGetPackages()
    {
        var env = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (!string.IsNullOrEmpty(env)) return Path.GetFullPath(env);
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".nuget", "packages");
    }
}

/// <summary>Versions of the things set-up installs outside NuGet package references.</summary>
public static class Versions
{
    public const string DotnetInteractive = "1.0.712001";
    /// <summary>FSharp.Core that Plotly.NET 6.0.0 is compiled against (the tool ships 10.0.0.0).</summary>
    public const string FSharpCore = "10.1.403";
    public const string PlotlyJs = "2.35.2";
    public const string TorchSharp = "0.107.0";
}
