namespace ConvMAE.Data.Segmentation;

/// <summary>One image with its label map, as loaded: RGB pixels and raw label values (the dataset's convention).</summary>
public sealed record SegImage(Rgb8Image Image, LabelMap Label, string Name);

/// <summary>
/// The ADEChallengeData2016 layout: <c>images/{training,validation}/NAME.jpg</c> with <c>annotations/{...}/NAME.png</c>
/// (8-bit label maps: 0 = "other", 1..150 = classes). Images and annotations are paired by name; an image without its
/// annotation (or the reverse) is left out with a warning naming the file, or refused under strict. Loading a sample
/// checks what training would otherwise trip over later: an unreadable file, an image and label of different sizes,
/// label values outside 0..num_classes (255 allowed), each a <see cref="BadSampleException"/> naming the file.
/// </summary>
public sealed class Ade20kDataset
{
    public static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png"];

    public string Root { get; }
    public string Split { get; }
    /// <summary>Classes in the label maps' convention, not counting 0 ("other").</summary>
    public int NumClasses { get; }
    public IReadOnlyList<(string Image, string Label)> Samples { get; }
    public IReadOnlyList<string> Warnings { get; }
    public int Count => Samples.Count;

    Ade20kDataset(string root, string split, int numClasses, List<(string, string)> samples, List<string> warnings)
    {
        Root = root; Split = split; NumClasses = numClasses; Samples = samples; Warnings = warnings;
    }

    /// <param name="split">"training" or "validation" (the folder names of the official layout).</param>
    public static Ade20kDataset Open(string root, string split, int numClasses = 150, bool strict = false)
    {
        var images = Path.Combine(root, "images", split);
        var labels = Path.Combine(root, "annotations", split);
        foreach (var d in new[] { images, labels })
            if (!Directory.Exists(d)) throw new DirectoryNotFoundException($"{d}: not found (ADEChallengeData2016 layout: images/{split}, annotations/{split})");
        var imageFiles = Directory.GetFiles(images).Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                                  .ToDictionary(f => Path.GetFileNameWithoutExtension(f)!, f => f);
        var labelFiles = Directory.GetFiles(labels, "*.png").ToDictionary(f => Path.GetFileNameWithoutExtension(f)!, f => f);
        var warnings = new List<string>();
        var samples = new List<(string, string)>();
        foreach (var name in imageFiles.Keys.Order(StringComparer.Ordinal))
        {
            if (labelFiles.TryGetValue(name, out var label)) { samples.Add((imageFiles[name], label)); continue; }
            var msg = $"{imageFiles[name]}: no annotation {Path.Combine(labels, name + ".png")}";
            if (strict) throw new InvalidDataException(msg);
            warnings.Add("skipped " + msg);
        }
        foreach (var name in labelFiles.Keys.Where(k => !imageFiles.ContainsKey(k)).Order(StringComparer.Ordinal))
        {
            var msg = $"{labelFiles[name]}: an annotation without its image in {images}";
            if (strict) throw new InvalidDataException(msg);
            warnings.Add("skipped " + msg);
        }
        if (samples.Count == 0) throw new InvalidDataException($"{images}: no image with an annotation");
        return new Ade20kDataset(root, split, numClasses, samples, warnings);
    }

    /// <summary>Class names of a dataset folder: the "classes" list of its dataset.json (the kit's generated data
    /// writes one), else "class 0", "class 1", ... for <paramref name="numClasses"/> classes.</summary>
    public static IReadOnlyList<string> ClassNames(string root, int numClasses = 150)
    {
        var manifest = Path.Combine(root, "dataset.json");
        if (File.Exists(manifest))
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(manifest));
            if (doc.RootElement.TryGetProperty("classes", out var c))
                return c.EnumerateArray().Select(e => e.GetString() ?? "?").ToList();
        }
        return Enumerable.Range(0, numClasses).Select(k => $"class {k}").ToList();
    }

    /// <summary>Decodes sample <paramref name="index"/> and checks it (sizes, label values).</summary>
    public SegImage Load(int index)
    {
        var (imagePath, labelPath) = Samples[index];
        using var decoded = ImageDecoding.Load(imagePath);
        var image = ImageDecoding.ToRgb8(decoded);
        var label = IndexedPng.Read(labelPath);
        if (label.Width != image.Width || label.Height != image.Height)
            throw new BadSampleException(labelPath, $"{label.Width}×{label.Height} label map for the {image.Width}×{image.Height} image {imagePath}");
        for (int i = 0; i < label.Values.Length; i++)
        {
            int v = label.Values[i];
            if (v > NumClasses && v != 255)
                throw new BadSampleException(labelPath, $"label value {v} at ({i % label.Width}, {i / label.Width}) is outside 0..{NumClasses} (and 255)");
        }
        return new SegImage(image, label, Path.GetFileNameWithoutExtension(imagePath));
    }
}
