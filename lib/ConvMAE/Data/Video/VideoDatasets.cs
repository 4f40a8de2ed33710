namespace ConvMAE.Data.Video;

/// <summary>
/// Opens a video dataset the way VideoMAE's flags name it: <c>--data_set</c> "Kinetics-400" (or any Kinetics-like
/// set: UCF101, HMDB51 read the same list files) or "SSV2", <c>--data_path</c> a dataset folder or a list/CSV file, and a
/// split train | val | test.
/// <list type="bullet">
/// <item>A file: read as a VideoMAE list file or, when its header says so, an official Kinetics CSV (any data set);
/// an SSv2 annotations JSON (something-something-v2-*.json) is read with its folder's labels file.</item>
/// <item>A Kinetics folder: <c>&lt;split&gt;.csv</c> (official CSV or list file, sniffed), else <c>lists/&lt;split&gt;.csv</c>;
/// test falls back to val (the official test set has no labels; VideoMAE's test list is the val clips), top-level files
/// first (test → val.csv before lists/test.csv), so every split of a folder is numbered the same way.</item>
/// <item>An SSv2 folder: the official JSON (train → train, val and test → validation), else VideoMAE list files
/// <c>&lt;split&gt;.csv</c> or <c>lists/&lt;split&gt;.csv</c>.</item>
/// </list>
/// Unknown labels, missing videos and malformed rows are skipped with counted warnings naming the file and row or id,
/// or throw <see cref="VideoDataException"/> when <paramref name="strict"/>.
/// </summary>
public static class VideoDatasets
{
    public static bool IsSsV2(string dataSet) => dataSet.Replace("-", "").Replace("_", "").ToUpperInvariant() is "SSV2" or "SOMETHINGSOMETHINGV2";

    public static VideoIndex Open(string dataSet, string dataPath, string split, bool strict = false)
    {
        split = NormaliseSplit(split);
        bool ssv2 = IsSsV2(dataSet);
        if (File.Exists(dataPath))
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(dataPath))!;
            if (dataPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                return SsV2Index.Open(folder, Path.GetFileName(dataPath).Contains("train") ? "train" : "val", strict);
            return KineticsIndex.Open(dataPath, split, strict, ssv2 && SsV2Labels(folder) is { } l ? l : null);
        }
        if (!Directory.Exists(dataPath)) throw new VideoDataException($"--data_path not found: {dataPath}");
        if (ssv2 && SsV2Index.LooksLikeRoot(dataPath)) return SsV2Index.Open(dataPath, split, strict);
        // Top-level indexes before lists/, so a folder's splits all come from one format (train.csv as official CSV and
        // test from lists/test.csv would number the classes differently).
        var splits = split == "test" ? new[] { "test", "val" } : [split];
        foreach (var candidate in splits.Select(s => Path.Combine(dataPath, s + ".csv")).Concat(splits.Select(s => Path.Combine(dataPath, "lists", s + ".csv"))))
            if (File.Exists(candidate))
                return KineticsIndex.Open(candidate, Path.GetFileNameWithoutExtension(candidate), strict, ssv2 ? SsV2Labels(dataPath) : KineticsIndex.ClassesFile(dataPath));
        throw new VideoDataException($"no {split} index in {dataPath}: expected {(ssv2 ? SsV2Index.SplitFile(dataPath, split) + " or " : "")}{Path.Combine(dataPath, split + ".csv")} or {Path.Combine(dataPath, "lists", split + ".csv")}");
    }

    static IReadOnlyList<string>? SsV2Labels(string folder)
    {
        // The list's folder or its parent (ssv2/lists/train.csv beside ssv2/something-something-v2-labels.json).
        foreach (var d in new[] { new DirectoryInfo(folder), new DirectoryInfo(folder).Parent }.OfType<DirectoryInfo>())
            if (File.Exists(Path.Combine(d.FullName, "something-something-v2-labels.json")) || File.Exists(Path.Combine(d.FullName, "labels.json")))
                return SsV2Index.ReadLabels(d.FullName);
        return null;
    }

    static string NormaliseSplit(string split) => split.ToLowerInvariant() switch
    {
        "train" => "train",
        "val" or "validation" or "valid" or "validate" => "val",
        "test" => "test",
        _ => throw new ArgumentException($"split must be train, val or test, got '{split}'"),
    };
}
