using System.Text.Json;

namespace ConvMAE.Data.Coco;

/// <summary>A bad COCO file or annotation; the message names the file and the annotation id or field.</summary>
public sealed class CocoFormatException(string message) : Exception(message);

/// <summary>An object's mask as stored in COCO JSON: polygons, or RLE (uncompressed list counts or compressed string).</summary>
public abstract record CocoSegmentation;

/// <summary>One or more polygons [x0, y0, x1, y1, ...] in pixel coordinates; parts are united.</summary>
public sealed record PolygonSegmentation(IReadOnlyList<double[]> Polygons) : CocoSegmentation;

/// <summary>RLE with its own [height, width]; exactly one of <see cref="Counts"/> (uncompressed) and
/// <see cref="Compressed"/> (COCO's string form) is set.</summary>
public sealed record RleSegmentation(int Height, int Width, uint[]? Counts, string? Compressed) : CocoSegmentation
{
    public Rle ToRle() => Counts is { } c ? new Rle(Height, Width, c) : Rle.FromCompressedString(Compressed!, Height, Width);
}

public sealed record CocoImage(long Id, int Width, int Height, string FileName);

public sealed record CocoCategory(long Id, string Name);

/// <summary>A ground-truth annotation or a result (results carry <see cref="Score"/> and no id of their own).</summary>
public sealed record CocoAnnotation
{
    public long Id { get; init; }
    public long ImageId { get; init; }
    public long CategoryId { get; init; }
    /// <summary>[x, y, w, h], or null when absent.</summary>
    public double[]? Bbox { get; init; }
    public double? Area { get; init; }
    public bool IsCrowd { get; init; }
    public CocoSegmentation? Segmentation { get; init; }
    public double Score { get; init; }
}

/// <summary>A COCO instances file: images, categories and annotations in file order.</summary>
public sealed record CocoInstances(string Path, IReadOnlyList<CocoImage> Images, IReadOnlyList<CocoCategory> Categories,
                                   IReadOnlyList<CocoAnnotation> Annotations)
{
    /// <summary>Reads an instances file. With <paramref name="badAnnotation"/> given, an annotation that cannot be parsed
    /// (a missing or non-numeric field, a malformed segmentation) is reported there (the message names its id) and left
    /// out, instead of failing the whole file; images and categories must always be well formed.</summary>
    public static CocoInstances Load(string path, Action<CocoFormatException>? badAnnotation = null)
    {
        using var doc = ReadJson(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new CocoFormatException($"{path}: expected a JSON object with images, annotations, categories");
        var images = Array(root, "images", path).Select((e, i) => new CocoImage(
            Long(e, "id", path, $"images[{i}]"), (int)Long(e, "width", path, $"images[{i}]"), (int)Long(e, "height", path, $"images[{i}]"),
            e.TryGetProperty("file_name", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "")).ToList();
        var categories = Array(root, "categories", path).Select((e, i) => new CocoCategory(
            Long(e, "id", path, $"categories[{i}]"),
            e.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "")).ToList();
        var annotations = root.TryGetProperty("annotations", out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray().Select((e, i) => TryParse(e, i)).OfType<CocoAnnotation>().ToList()
            : [];
        return new CocoInstances(path, images, categories, annotations);

        CocoAnnotation? TryParse(JsonElement e, int i)
        {
            if (badAnnotation is null) return ParseAnnotation(e, path, i, isResult: false);
            try { return ParseAnnotation(e, path, i, isResult: false); }
            catch (CocoFormatException bad) { badAnnotation(bad); return null; }
        }
    }

    /// <summary>Reads a results file (a JSON array of detections in the official results format).</summary>
    public static IReadOnlyList<CocoAnnotation> LoadResults(string path)
    {
        using var doc = ReadJson(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new CocoFormatException($"{path}: results must be a JSON array of objects");
        return doc.RootElement.EnumerateArray().Select((e, i) => ParseAnnotation(e, path, i, isResult: true)).ToList();
    }

    static JsonDocument ReadJson(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"COCO file not found: {path}", path);
        try { using var s = File.OpenRead(path); return JsonDocument.Parse(s, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new CocoFormatException($"{path}: not valid JSON ({e.Message})"); }
    }

    static IEnumerable<JsonElement> Array(JsonElement root, string name, string path) =>
        root.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array ? a.EnumerateArray()
            : throw new CocoFormatException($"{path}: missing array \"{name}\"");

    static long Long(JsonElement e, string field, string path, string where)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.Number)
            throw new CocoFormatException($"{path}: {where} has no numeric \"{field}\"");
        return v.TryGetInt64(out var l) ? l : (long)v.GetDouble();
    }

    static CocoAnnotation ParseAnnotation(JsonElement e, string path, int index, bool isResult)
    {
        string where = isResult ? $"result [{index}]" : $"annotation [{index}]";
        if (!isResult && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("id", out var idEl) && idEl.ValueKind == JsonValueKind.Number)
            where = $"annotation id {idEl.GetRawText()}";
        var ann = new CocoAnnotation
        {
            Id = isResult ? index + 1 : Long(e, "id", path, where),
            ImageId = Long(e, "image_id", path, where),
            CategoryId = Long(e, "category_id", path, where),
            Bbox = e.TryGetProperty("bbox", out var b) && b.ValueKind == JsonValueKind.Array ? Numbers(b, path, where, "bbox") : null,
            Area = e.TryGetProperty("area", out var ar) && ar.ValueKind == JsonValueKind.Number ? ar.GetDouble() : null,
            IsCrowd = e.TryGetProperty("iscrowd", out var c) && (c.ValueKind == JsonValueKind.True || (c.ValueKind == JsonValueKind.Number && c.GetDouble() != 0)),
            Segmentation = e.TryGetProperty("segmentation", out var s) ? ParseSegmentation(s, path, where) : null,
            Score = e.TryGetProperty("score", out var sc) && sc.ValueKind == JsonValueKind.Number ? sc.GetDouble()
                  : isResult ? throw new CocoFormatException($"{path}: {where} has no numeric \"score\"") : 0,
        };
        if (ann.Bbox is { Length: not 4 } bb && !(isResult && bb.Length == 0))
            throw new CocoFormatException($"{path}: {where} has a bbox of {bb.Length} numbers, expected [x, y, w, h]");
        return ann;
    }

    static double[] Numbers(JsonElement a, string path, string where, string field) =>
        a.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number ? v.GetDouble()
            : throw new CocoFormatException($"{path}: {where} has a non-number in \"{field}\"")).ToArray();

    static CocoSegmentation? ParseSegmentation(JsonElement s, string path, string where)
    {
        switch (s.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.Array:
                return new PolygonSegmentation(s.EnumerateArray().Select(p => p.ValueKind == JsonValueKind.Array
                    ? Numbers(p, path, where, "segmentation")
                    : throw new CocoFormatException($"{path}: {where} has a polygon that is not an array of numbers")).ToList());
            case JsonValueKind.Object:
                if (!s.TryGetProperty("size", out var size) || size.ValueKind != JsonValueKind.Array || size.GetArrayLength() != 2
                    || !s.TryGetProperty("counts", out var counts))
                    throw new CocoFormatException($"{path}: {where} has an RLE without \"size\": [h, w] and \"counts\"");
                int h = size[0].GetInt32(), w = size[1].GetInt32();
                if (counts.ValueKind == JsonValueKind.String) return new RleSegmentation(h, w, null, counts.GetString()!);
                if (counts.ValueKind == JsonValueKind.Array)
                    return new RleSegmentation(h, w, counts.EnumerateArray().Select(v => v.TryGetUInt32(out var u) ? u
                        : throw new CocoFormatException($"{path}: {where} has an RLE count that is not a non-negative integer")).ToArray(), null);
                throw new CocoFormatException($"{path}: {where} has RLE counts that are neither a string nor a list");
            default:
                throw new CocoFormatException($"{path}: {where} has a segmentation that is neither polygons nor RLE");
        }
    }
}

/// <summary>pycocotools' conversions of a stored segmentation to RLE (COCO.annToRLE and mask.frPyObjects).</summary>
public static class CocoMasks
{
    /// <summary>annToRLE: polygons are rasterised at the image's size and united; RLE keeps its own size.
    /// Quirk kept from frPyObjects: a polygon list whose first polygon has exactly 4 numbers is read as [x, y, w, h] boxes.</summary>
    public static Rle ToRle(CocoSegmentation segmentation, int imageHeight, int imageWidth) => segmentation switch
    {
        RleSegmentation r => r.ToRle(),
        PolygonSegmentation { Polygons.Count: > 0 } p when p.Polygons[0].Length == 4 =>
            Rle.Merge(p.Polygons.Select(b => Rle.FromBbox(b, imageHeight, imageWidth)).ToList()),
        PolygonSegmentation p => Rle.Merge(p.Polygons.Select(poly => Rle.FromPolygon(poly, imageHeight, imageWidth)).ToList()),
        _ => throw new ArgumentException("unknown segmentation kind"),
    };
}
