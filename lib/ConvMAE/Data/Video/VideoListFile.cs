using System.Globalization;

namespace ConvMAE.Data.Video;

/// <summary>
/// VideoMAE's list files (train.csv / val.csv / test.csv read with pandas, delimiter ' ', no header): one
/// <c>path label</c> per line, label a class index; the pretraining list's <c>path duration label</c> (kinetics.py:498-513)
/// is accepted too (the last field is the label). A relative path is taken from the list file's folder (VideoMAE passes
/// them to decord as they are, i.e. from the working directory; the spec's demo lists are relative to their folder).
/// The label is the last space-separated field, so a path may contain spaces (VideoMAE's pandas read would not allow that). Class names come from
/// <paramref name="classNames"/> (e.g. classes.txt) or are "class k" up to the largest label.
/// </summary>
public static class VideoListFile
{
    public static VideoIndex Open(string listFile, bool strict, IReadOnlyList<string>? classNames = null)
    {
        if (!File.Exists(listFile)) throw new VideoDataException($"video list file not found: {listFile}");
        var folder = Path.GetDirectoryName(Path.GetFullPath(listFile))!;
        var log = new SkipLog(strict);
        var entries = new List<VideoEntry>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(listFile))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            string where = $"{listFile}:{lineNo}";
            // The label is the last field; the path is everything before it (the demo's Kinetics folders have spaces).
            int cut = line.LastIndexOf(' ');
            if (cut <= 0 || !int.TryParse(line[(cut + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int label))
            { log.Bad($"{where}: malformed row '{line}' ('path label' expected, label a class index)"); continue; }
            string rel = line[..cut].TrimEnd();
            var path = Resolve(folder, rel);
            // The pretraining list's 'path duration label': drop an integer duration when only that finds the video.
            int cut2 = rel.LastIndexOf(' ');
            if (!ClipReader.Exists(path) && cut2 > 0 && int.TryParse(rel[(cut2 + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                && ClipReader.Exists(Resolve(folder, rel[..cut2].TrimEnd())))
                (rel, path) = (rel[..cut2].TrimEnd(), Resolve(folder, rel[..cut2].TrimEnd()));
            if (label < 0 || (classNames is not null && label >= classNames.Count))
            { log.Bad($"{where}: {rel}: unknown label {label}" + (classNames is null ? "" : $" (there are {classNames.Count} classes)")); continue; }
            if (!ClipReader.Exists(path)) { log.Bad($"{where}: video not found: {path}"); continue; }
            entries.Add(new VideoEntry(path, label, $"{Path.GetFileName(listFile)}:{lineNo}"));
        }
        var names = classNames ?? Enumerable.Range(0, entries.Count == 0 ? 0 : entries.Max(e => e.Label) + 1).Select(k => $"class {k}").ToList();
        return log.Finish(listFile, entries, names);
    }

    static string Resolve(string folder, string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(folder, path));
}
