namespace ConvMAE.DataPrep;

/// <summary>
/// A class-balanced subset of a real ImageNet folder (train/ and val/ in class-folder layout, as the official
/// ConvMAE/MAE scripts read it), made of symbolic links (or copies) so it costs no disk.
/// </summary>
public sealed record SubsetOptions(int Classes = 100, int TrainPerClass = 260, int ValPerClass = 50, int Seed = 0, bool Copy = false);

public static class ImageNetSubset
{
    static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase) { ".jpeg", ".jpg", ".png", ".bmp", ".webp" };

    public static (int Classes, int Train, int Val) Build(string source, string target, SubsetOptions o, Action<string>? progress = null)
    {
        source = Path.GetFullPath(source);
        foreach (var split in new[] { "train", "val" })
            if (!Directory.Exists(Path.Combine(source, split)))
                throw new DirectoryNotFoundException($"{Path.Combine(source, split)}: missing (expected ImageNet layout: train/<wnid>/*.JPEG and val/<wnid>/*.JPEG)");
        var classes = Directory.GetDirectories(Path.Combine(source, "train")).Select(Path.GetFileName).OfType<string>()
                               .Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0) throw new InvalidDataException($"{Path.Combine(source, "train")}: no class folders");
        if (o.Classes > classes.Count)
            throw new ArgumentException($"--classes {o.Classes}: {source} has only {classes.Count} classes");
        var rng = new Random(o.Seed);
        var chosen = classes.OrderBy(_ => rng.Next()).Take(o.Classes).Order(StringComparer.Ordinal).ToList();
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new IOException($"{target} exists and is not empty");
        int train = 0, val = 0;
        foreach (var wnid in chosen)
        {
            train += Take(Path.Combine(source, "train", wnid), Path.Combine(target, "train", wnid), o.TrainPerClass, rng, o.Copy);
            var valDir = Path.Combine(source, "val", wnid);
            if (!Directory.Exists(valDir))
                throw new DirectoryNotFoundException($"{valDir}: missing (val/ must use class folders; the flat ILSVRC val layout needs its labels applied first)");
            val += Take(valDir, Path.Combine(target, "val", wnid), o.ValPerClass, rng, o.Copy);
            progress?.Invoke(wnid);
        }
        return (chosen.Count, train, val);
    }

    static int Take(string from, string to, int count, Random rng, bool copy)
    {
        var files = Directory.GetFiles(from).Where(f => ImageExtensions.Contains(Path.GetExtension(f)))
                             .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidDataException($"{from}: no image files");
        Directory.CreateDirectory(to);
        var picked = files.OrderBy(_ => rng.Next()).Take(count).ToList();
        foreach (var f in picked)
        {
            var dest = Path.Combine(to, Path.GetFileName(f));
            if (copy) File.Copy(f, dest);
            else File.CreateSymbolicLink(dest, f);
        }
        return picked.Count;
    }
}
