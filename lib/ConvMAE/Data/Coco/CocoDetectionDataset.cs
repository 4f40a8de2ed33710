namespace ConvMAE.Data.Coco;

/// <summary>One usable instance: its annotation id, contiguous class (0..K−1), box x1,y1,x2,y2 in pixels, crowd flag
/// and segmentation (polygons with the invalid ones already removed, or RLE of the image's size).</summary>
public sealed record DetInstance(long AnnotationId, int Class, double[] Box, bool IsCrowd, CocoSegmentation Segmentation);

/// <summary>A decoded image with its usable instances.</summary>
public sealed record DetImage(Rgb8Image Image, CocoImage Info, IReadOnlyList<DetInstance> Instances);

/// <summary>
/// A COCO instances file and its image folder, read as detectron2's load_coco_json + DatasetMapper do:
/// category ids (non-contiguous, e.g. COCO's 1..90) map to contiguous classes in the order of their sorted ids;
/// polygons with fewer than 3 points (or an odd number of coordinates) are dropped from their annotation and an
/// annotation left with none is skipped; for training, crowd regions are left out of the targets and images without
/// any other annotation are dropped (filter_empty_annotations); for evaluation every image is kept.
///
/// Malformed annotations (a missing field, an unknown image or category id, a box outside its image or with no area,
/// an invalid polygon, an RLE whose size is not the image's or whose counts do not add up) are skipped with a
/// counted warning naming the annotation id, or rejected with a <see cref="CocoFormatException"/> naming it when
/// <c>strict</c>: a long run never dies on one bad annotation.
/// </summary>
public sealed class CocoDetectionDataset
{
    public CocoInstances Instances { get; }
    public string ImageDir { get; }
    public bool Training { get; }
    /// <summary>Contiguous class k → its COCO category id.</summary>
    public IReadOnlyList<long> CategoryIds { get; }
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>The images this dataset serves, in file order (for training: those with a non-crowd instance).</summary>
    public IReadOnlyList<CocoImage> Images { get; }
    public IReadOnlyList<string> Warnings { get; }
    public int SkippedAnnotations { get; }
    public int Count => Images.Count;
    readonly Dictionary<long, List<DetInstance>> byImage;

    CocoDetectionDataset(CocoInstances instances, string imageDir, bool training, IReadOnlyList<long> categoryIds, IReadOnlyList<string> names,
                         IReadOnlyList<CocoImage> images, Dictionary<long, List<DetInstance>> byImage, List<string> warnings, int skipped)
    {
        Instances = instances; ImageDir = imageDir; Training = training; CategoryIds = categoryIds; ClassNames = names;
        Images = images; this.byImage = byImage; Warnings = warnings; SkippedAnnotations = skipped;
    }

    /// <summary>Opens <paramref name="annotationFile"/> (instances_*.json) with images under <paramref name="imageDir"/>.</summary>
    public static CocoDetectionDataset Open(string annotationFile, string imageDir, bool training, bool strict = false)
    {
        var warnings = new List<string>();
        int skipped = 0;
        void Bad(string message)
        {
            if (strict) throw new CocoFormatException(message + " (--strict)");
            skipped++;
            if (warnings.Count < 20) warnings.Add(message + "; skipped");
        }
        var instances = CocoInstances.Load(annotationFile, e => Bad(e.Message));
        if (!Directory.Exists(imageDir)) throw new DirectoryNotFoundException($"COCO image folder not found: {imageDir} (for {annotationFile})");
        var cats = instances.Categories.OrderBy(c => c.Id).ToList();
        if (cats.Select(c => c.Id).Distinct().Count() != cats.Count) throw new CocoFormatException($"{annotationFile}: duplicate category ids");
        var classOf = cats.Select((c, k) => (c.Id, k)).ToDictionary(t => t.Id, t => t.k);
        var imageById = new Dictionary<long, CocoImage>();
        foreach (var im in instances.Images)
            if (!imageById.TryAdd(im.Id, im)) throw new CocoFormatException($"{annotationFile}: image id {im.Id} appears twice");
        var byImage = new Dictionary<long, List<DetInstance>>();
        foreach (var a in instances.Annotations)
        {
            string where = $"{annotationFile}: annotation id {a.Id}";
            if (!imageById.TryGetValue(a.ImageId, out var im)) { Bad($"{where}: unknown image_id {a.ImageId}"); continue; }
            if (!classOf.TryGetValue(a.CategoryId, out int cls)) { Bad($"{where}: unknown category_id {a.CategoryId}"); continue; }
            if (a.Bbox is not { Length: 4 } bb) { Bad($"{where}: missing field \"bbox\""); continue; }
            if (!(bb[2] > 0 && bb[3] > 0)) { Bad($"{where}: bbox [{string.Join(", ", bb)}] has no area"); continue; }
            if (bb[0] >= im.Width || bb[1] >= im.Height || bb[0] + bb[2] <= 0 || bb[1] + bb[3] <= 0)
            { Bad($"{where}: bbox [{string.Join(", ", bb)}] lies outside its {im.Width}×{im.Height} image {a.ImageId}"); continue; }
            if (a.Segmentation is null) { Bad($"{where}: missing field \"segmentation\""); continue; }
            CocoSegmentation seg = a.Segmentation;
            if (seg is PolygonSegmentation poly)
            {
                var valid = poly.Polygons.Where(p => p.Length >= 6 && p.Length % 2 == 0).ToList();
                if (valid.Count == 0) { Bad($"{where}: no polygon with at least 3 points"); continue; }
                seg = new PolygonSegmentation(valid);
            }
            else if (seg is RleSegmentation rle)
            {
                if (rle.Height != im.Height || rle.Width != im.Width)
                { Bad($"{where}: RLE size [{rle.Height}, {rle.Width}] differs from its image's [{im.Height}, {im.Width}]"); continue; }
                try
                {
                    var r = rle.ToRle();
                    long total = r.Counts.Sum(c => (long)c);
                    if (total != (long)im.Height * im.Width) { Bad($"{where}: RLE counts cover {total} pixels, not {im.Height}×{im.Width}"); continue; }
                }
                catch (Exception e) when (e is ArgumentException or FormatException or IndexOutOfRangeException)
                { Bad($"{where}: RLE counts cannot be decoded ({e.Message})"); continue; }
            }
            if (!byImage.TryGetValue(a.ImageId, out var list)) byImage[a.ImageId] = list = [];
            list.Add(new DetInstance(a.Id, cls, [bb[0], bb[1], bb[0] + bb[2], bb[1] + bb[3]], a.IsCrowd, seg));
        }
        if (skipped > warnings.Count) warnings.Add($"{annotationFile}: {skipped} malformed annotations skipped in all (the first {warnings.Count} named above)");
        var images = training
            ? instances.Images.Where(im => byImage.TryGetValue(im.Id, out var l) && l.Any(i => !i.IsCrowd)).ToList()
            : instances.Images.ToList();
        return new CocoDetectionDataset(instances, imageDir, training, cats.Select(c => c.Id).ToList(),
                                        cats.Select(c => string.IsNullOrEmpty(c.Name) ? $"category {c.Id}" : c.Name).ToList(), images, byImage, warnings, skipped);
    }

    /// <summary>The usable instances of an image (crowd regions included; a training mapper leaves them out).</summary>
    public IReadOnlyList<DetInstance> InstancesOf(long imageId) => byImage.TryGetValue(imageId, out var l) ? l : [];

    /// <summary>Decodes image <paramref name="index"/>; a file whose size differs from the JSON's is a bad sample.</summary>
    public DetImage Load(int index)
    {
        var info = Images[index];
        var path = Path.Combine(ImageDir, info.FileName);
        using var decoded = ImageDecoding.Load(path);
        var image = ImageDecoding.ToRgb8(decoded);
        if (image.Width != info.Width || image.Height != info.Height)
            throw new BadSampleException(path, $"decoded as {image.Width}×{image.Height}, but {Path.GetFileName(Instances.Path)} says {info.Width}×{info.Height} for image id {info.Id}");
        return new DetImage(image, info, InstancesOf(info.Id));
    }
}
