using System.Text.Json;

namespace ConvMAE.Data.Video;

/// <summary>
/// Something-Something-v2 as distributed: <c>something-something-v2-{train,validation}.json</c> (arrays of
/// <c>{"id", "label", "template", "placeholders"}</c>), <c>something-something-v2-labels.json</c> (or labels.json:
/// <c>{"Moving something from left to right": "0", ...}</c>) and videos <c>20bn-something-something-v2/&lt;id&gt;.webm</c>
/// (or <c>&lt;root&gt;/&lt;id&gt;.webm</c>). A clip's class is its template with the brackets removed ("Moving [something]
/// from left to right" → "Moving something from left to right", as the official label keys are written; this covers
/// "[something]", "[number of]" and the other placeholders alike) looked up in the labels file.
/// </summary>
public static class SsV2Index
{
    public static string SplitFile(string root, string split) =>
        Path.Combine(root, split == "train" ? "something-something-v2-train.json" : "something-something-v2-validation.json");

    public static bool LooksLikeRoot(string folder) =>
        File.Exists(Path.Combine(folder, "something-something-v2-train.json")) || File.Exists(Path.Combine(folder, "something-something-v2-validation.json"));

    /// <summary>The labels file of <paramref name="root"/>: class names by index.</summary>
    public static IReadOnlyList<string> ReadLabels(string root)
    {
        var path = new[] { "something-something-v2-labels.json", "labels.json" }.Select(n => Path.Combine(root, n)).FirstOrDefault(File.Exists)
            ?? throw new VideoDataException($"SSv2 labels file not found: {Path.Combine(root, "something-something-v2-labels.json")} (or labels.json)");
        using var doc = Parse(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new VideoDataException($"{path}: expected an object {{\"template\": \"index\"}}");
        var byIndex = new SortedDictionary<int, string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            string v = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.ToString();
            if (!int.TryParse(v, out int k) || k < 0) throw new VideoDataException($"{path}: label \"{p.Name}\" has index '{v}', not a class index");
            if (!byIndex.TryAdd(k, p.Name)) throw new VideoDataException($"{path}: index {k} is given to both \"{byIndex[k]}\" and \"{p.Name}\"");
        }
        if (byIndex.Count > 0 && byIndex.Keys.Last() != byIndex.Count - 1) throw new VideoDataException($"{path}: class indices are not 0..{byIndex.Count - 1}");
        return byIndex.Values.ToList();
    }

    /// <summary>"Putting [something] onto [something]" → "Putting something onto something".</summary>
    public static string TemplateKey(string template) => template.Replace("[", "").Replace("]", "");

    public static VideoIndex Open(string root, string split, bool strict)
    {
        var file = SplitFile(root, split);
        if (!File.Exists(file)) throw new VideoDataException($"SSv2 annotations not found: {file}");
        var classes = ReadLabels(root);
        var classOf = classes.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i, StringComparer.Ordinal);
        var log = new SkipLog(strict);
        var entries = new List<VideoEntry>();
        using var doc = Parse(file);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new VideoDataException($"{file}: expected a JSON array of clips");
        int i = -1;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            i++;
            string? id = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("id", out var idEl) ? (idEl.ValueKind == JsonValueKind.String ? idEl.GetString() : idEl.ToString()) : null;
            string where = id is null ? $"{file}: entry {i}" : $"{file}: id {id}";
            if (string.IsNullOrEmpty(id)) { log.Bad($"{where}: malformed entry (no \"id\")"); continue; }
            if (!e.TryGetProperty("template", out var tEl) || tEl.ValueKind != JsonValueKind.String)
            { log.Bad($"{where}: malformed entry (no \"template\")"); continue; }
            var key = TemplateKey(tEl.GetString()!);
            if (!classOf.TryGetValue(key, out int cls)) { log.Bad($"{where}: unknown label \"{key}\""); continue; }
            var path = new[] { Path.Combine(root, "20bn-something-something-v2", id + ".webm"), Path.Combine(root, id + ".webm") }.FirstOrDefault(ClipReader.Exists);
            if (path is null) { log.Bad($"{where}: video not found ({Path.Combine(root, "20bn-something-something-v2", id + ".webm")})"); continue; }
            entries.Add(new VideoEntry(path, cls, id));
        }
        return log.Finish(file, entries, classes);
    }

    static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new VideoDataException($"{path}: not valid JSON ({e.Message})"); }
    }
}
