using System.Globalization;

namespace ConvMAE.Data.Video;

/// <summary>
/// Kinetics indexes. Two formats, told apart by the first line (<see cref="IsOfficialCsv"/>):
/// <list type="bullet">
/// <item>the official CSV, header <c>label,youtube_id,time_start,time_end,split</c> (columns found by name; a test
/// CSV without <c>label</c> is read with every label unknown, so it is not usable for training); the video of a row
/// is <c>&lt;root&gt;/&lt;split&gt;/&lt;label&gt;/&lt;youtube_id&gt;_&lt;time_start:06d&gt;_&lt;time_end:06d&gt;.mp4</c>,
/// the label folder as written or with spaces replaced by underscores, the split folder from the row's split column
/// (falling back to the split asked for). Class index = line of <c>classes.txt</c> in the CSV's folder when there is
/// one, else the position of the label among the sorted (ordinal) labels of the folder's train.csv (else this CSV),
/// so train and val agree;</item>
/// <item>a VideoMAE list file (<see cref="VideoListFile"/>).</item>
/// </list>
/// </summary>
public static class KineticsIndex
{
    static readonly string[] OfficialColumns = ["youtube_id", "time_start", "time_end"];

    /// <summary>Whether a first line is the official CSV's header (it names youtube_id, time_start and time_end).</summary>
    public static bool IsOfficialCsv(string firstLine)
    {
        var cols = firstLine.Trim().TrimStart('\uFEFF').Split(',').Select(c => c.Trim().ToLowerInvariant()).ToArray();
        return OfficialColumns.All(cols.Contains);
    }

    /// <summary>Reads an official Kinetics CSV or, when its first line is not the official header, a list file.</summary>
    public static VideoIndex Open(string csv, string split, bool strict, IReadOnlyList<string>? classNames = null)
    {
        if (!File.Exists(csv)) throw new VideoDataException($"Kinetics index not found: {csv}");
        var first = File.ReadLines(csv).FirstOrDefault() ?? "";
        if (!IsOfficialCsv(first)) return VideoListFile.Open(csv, strict, classNames ?? ClassesFile(Path.GetDirectoryName(Path.GetFullPath(csv))!));
        var root = Path.GetDirectoryName(Path.GetFullPath(csv))!;
        classNames ??= ClassesFile(root) ?? SortedLabels(File.Exists(Path.Combine(root, "train.csv")) && IsOfficialCsv(File.ReadLines(Path.Combine(root, "train.csv")).FirstOrDefault() ?? "")
                                                         ? Path.Combine(root, "train.csv") : csv);
        var classOf = classNames.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i, StringComparer.Ordinal);
        var log = new SkipLog(strict);
        var entries = new List<VideoEntry>();
        var header = Header(first);
        int cLabel = Array.IndexOf(header, "label"), cId = Array.IndexOf(header, "youtube_id"), cStart = Array.IndexOf(header, "time_start"),
            cEnd = Array.IndexOf(header, "time_end"), cSplit = Array.IndexOf(header, "split");
        int lineNo = 1;
        foreach (var line in File.ReadLines(csv).Skip(1))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{csv}:{lineNo}";
            var f = Split(line);
            if (f.Length != header.Length) { log.Bad($"{where}: malformed row '{line}' ({f.Length} fields, the header has {header.Length})"); continue; }
            string id = f[cId];
            if (!int.TryParse(f[cStart], NumberStyles.Integer, CultureInfo.InvariantCulture, out int start)
                || !int.TryParse(f[cEnd], NumberStyles.Integer, CultureInfo.InvariantCulture, out int end) || id.Length == 0)
            { log.Bad($"{where}: malformed row '{line}' (youtube_id, integer time_start and time_end expected)"); continue; }
            string clip = $"{id}_{start:D6}_{end:D6}";
            string label = cLabel >= 0 ? f[cLabel] : "";
            if (!classOf.TryGetValue(label, out int cls)) { log.Bad($"{where}: clip {clip}: unknown label '{label}'"); continue; }
            string splitDir = cSplit >= 0 && f[cSplit].Length > 0 ? f[cSplit] : split;
            var path = FindVideo(root, splitDir, split, label, clip);
            if (path is null) { log.Bad($"{where}: clip {clip}: video not found ({Path.Combine(root, splitDir, label, clip + ".mp4")})"); continue; }
            entries.Add(new VideoEntry(path, cls, clip));
        }
        return log.Finish(csv, entries, classNames);
    }

    static string? FindVideo(string root, string splitDir, string split, string label, string clip)
    {
        foreach (var s in new[] { splitDir, split }.Distinct())
            foreach (var l in new[] { label, label.Replace(' ', '_') }.Distinct())
            {
                var p = Path.Combine(root, s, l, clip + ".mp4");
                if (ClipReader.Exists(p)) return p;
            }
        return null;
    }

    /// <summary><c>classes.txt</c> in <paramref name="folder"/>: one class name per line, line k = class k.</summary>
    public static IReadOnlyList<string>? ClassesFile(string folder)
    {
        var p = Path.Combine(folder, "classes.txt");
        return File.Exists(p) ? File.ReadAllLines(p).Select(l => l.Trim()).Where(l => l.Length > 0).ToList() : null;
    }

    static IReadOnlyList<string> SortedLabels(string csv)
    {
        var header = Header(File.ReadLines(csv).First());
        int c = Array.IndexOf(header, "label");
        if (c < 0) return [];
        return File.ReadLines(csv).Skip(1).Select(Split).Where(f => f.Length == header.Length && f[c].Length > 0)
            .Select(f => f[c]).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    static string[] Header(string line) => Split(line).Select(c => c.ToLowerInvariant()).ToArray();

    /// <summary>Comma split with the official files' optional double quotes around a field.</summary>
    static string[] Split(string line)
    {
        var fields = new List<string>();
        var cur = new System.Text.StringBuilder();
        bool quoted = false;
        foreach (char ch in line.TrimStart('\uFEFF').TrimEnd('\r'))
        {
            if (ch == '"') quoted = !quoted;
            else if (ch == ',' && !quoted) { fields.Add(cur.ToString().Trim()); cur.Clear(); }
            else cur.Append(ch);
        }
        fields.Add(cur.ToString().Trim());
        return fields.ToArray();
    }
}
