namespace ConvMAE.Data;

/// <summary>
/// A folder of class folders, as ImageNet's train/ and val/ (and torchvision's ImageFolder): classes are the
/// sub-folder names in ordinal order, labels their index, samples every image file below each, in ordinal order.
/// </summary>
public sealed class ImageFolder
{
    public string Root { get; }
    public IReadOnlyList<string> Classes { get; }
    public IReadOnlyList<(string Path, int Label)> Samples { get; }
    /// <summary>Files passed over while scanning (non-image files), each naming the file.</summary>
    public IReadOnlyList<string> Warnings { get; }

    ImageFolder(string root, List<string> classes, List<(string, int)> samples, List<string> warnings) =>
        (Root, Classes, Samples, Warnings) = (root, classes, samples, warnings);

    public int Count => Samples.Count;

    /// <summary>Scans <paramref name="root"/>. Missing folder, no class folders or an empty class folder throw with the
    /// folder named; a non-image file is a warning, or an error when <paramref name="strict"/>.</summary>
    public static ImageFolder Open(string root, bool strict = false)
    {
        root = Path.GetFullPath(root);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException(File.Exists(root)
                ? $"data path {root} is a file; expected a folder of class folders"
                : $"data path not found: {root}");
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>()
                               .Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0)
            throw new InvalidDataException($"{root}: no class folders (expected <class>/<image> files, as ImageNet's train/ and val/)");
        var samples = new List<(string, int)>();
        var warnings = new List<string>();
        for (int label = 0; label < classes.Count; label++)
        {
            var dir = Path.Combine(root, classes[label]);
            int before = samples.Count;
            foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                if (ImageDecoding.HasImageExtension(file)) { samples.Add((file, label)); continue; }
                if (Path.GetFileName(file).StartsWith('.')) continue;   // .DS_Store and friends
                var message = $"{file}: not an image file (extension '{Path.GetExtension(file)}'), skipped";
                if (strict) throw new InvalidDataException(message.Replace(", skipped", ""));
                warnings.Add(message);
            }
            if (samples.Count == before)
                throw new InvalidDataException($"{dir}: empty class folder (no image files)");
        }
        return new ImageFolder(root, classes, samples, warnings);
    }

    /// <summary>The train/ or val/ folder of an ImageNet-layout data path, with the usual error when it is missing.</summary>
    public static ImageFolder OpenSplit(string dataPath, string split, bool strict = false)
    {
        if (!Directory.Exists(dataPath)) throw new DirectoryNotFoundException($"--data_path not found: {Path.GetFullPath(dataPath)}");
        var dir = Path.Combine(dataPath, split);
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"{Path.GetFullPath(dir)}: missing; --data_path must hold train/ and val/ class folders");
        return Open(dir, strict);
    }
}
