namespace ConvMAE.Data.Video;

/// <summary>One clip of a dataset: its video path (its frames folder may stand in for it, <see cref="VideoFrames"/>),
/// class index and an id for messages (Kinetics youtube_id_start_end, SSv2 id, or list file:line).</summary>
public sealed record VideoEntry(string Path, int Label, string Id);

/// <summary>A dataset's clips in file order, its class names (index = class), and what was skipped while reading it.</summary>
public sealed record VideoIndex(string Source, IReadOnlyList<VideoEntry> Entries, IReadOnlyList<string> ClassNames,
                                IReadOnlyList<string> Warnings, int Skipped)
{
    public int Count => Entries.Count;
    public int NumClasses => ClassNames.Count;
}

/// <summary>Counts bad rows while an index is read: each is a warning naming the file and row or id (the first 20 kept,
/// then a total), or, when strict, a <see cref="VideoDataException"/>.</summary>
sealed class SkipLog(bool strict)
{
    public const int MaxWarnings = 20;
    readonly List<string> warnings = [];
    public int Skipped { get; private set; }

    public void Bad(string message)
    {
        if (strict) throw new VideoDataException(message + " (--strict)");
        Skipped++;
        if (warnings.Count < MaxWarnings) warnings.Add(message + "; skipped");
    }

    public VideoIndex Finish(string source, List<VideoEntry> entries, IReadOnlyList<string> classes)
    {
        if (Skipped > warnings.Count) warnings.Add($"{source}: {Skipped} clips skipped in all (the first {warnings.Count} named above)");
        return new VideoIndex(source, entries, classes, warnings, Skipped);
    }
}
