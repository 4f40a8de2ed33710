namespace ConvMAE.DataPrep;

/// <summary>
/// How every generator writes its dataset: nothing when the folder's manifest already equals the new one; otherwise
/// into a temporary sibling folder renamed into place at the end, so an interrupted run never leaves a half dataset
/// that looks complete. A non-empty folder without a manifest is never replaced.
/// </summary>
public static class GeneratedFolder
{
    public const string ManifestName = "dataset.json";

    /// <summary>Returns false (and writes nothing) when <paramref name="root"/> already holds this manifest.</summary>
    public static bool Write(string root, string manifest, string what, Action<string> writeInto)
    {
        root = Path.GetFullPath(root);
        var manifestPath = Path.Combine(root, ManifestName);
        if (File.Exists(manifestPath) && File.ReadAllText(manifestPath) == manifest) return false;
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
        {
            if (!File.Exists(manifestPath)) throw new IOException($"{root} exists and is not {what} (no {ManifestName}); refusing to replace it");
            Directory.Delete(root, recursive: true);
        }
        var tmp = root + ".partial-" + Environment.ProcessId;
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        writeInto(tmp);
        File.WriteAllText(Path.Combine(tmp, ManifestName), manifest);
        Directory.Move(tmp, root);
        return true;
    }
}
