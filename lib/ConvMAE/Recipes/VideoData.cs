using ConvMAE.Data;
using ConvMAE.Data.Video;

namespace ConvMAE.Recipes;

/// <summary>The video recipes' data: VideoMAE's loaders built from the run's flags, their warnings sent to the observer.</summary>
public static class VideoData
{
    static LoaderOptions Options(RunArgs a, bool training) =>
        new(a.BatchSize, Shuffle: training, DropLast: training, a.Seed, a.NumWorkers, Strict: a.Strict);

    public static VideoLoader PretrainLoader(VideoArgs a, RunObserver obs) =>
        Report(VideoLoader.Pretrain(a.DataSetName, a.DataPath, "train", a.NumFrames, a.SamplingRate, a.InputSize, Options(a, true)), obs);

    public static VideoLoader FinetuneLoader(VideoFinetuneArgs a, RunObserver obs) =>
        Report(VideoLoader.Finetune(a.DataSetName, a.DataPath, "train", a.NumFrames, a.SamplingRate, a.InputSize, Options(a, true),
                                    string.IsNullOrEmpty(a.Aa) ? null : a.Aa, a.FlipFrames,
                                    minCropScale: a.MinCropScale), obs);

    /// <summary>views = 1: VideoMAE's single-view validation mode (per-epoch evaluation); otherwise its test mode with
    /// --test_num_segment × --test_num_crop views, the short side resized to --short_side_size (default input_size).</summary>
    public static VideoLoader EvalLoader(VideoFinetuneArgs a, string split, bool multiView, RunObserver obs) =>
        Report(VideoLoader.Eval(a.DataSetName, a.DataPath, split, a.NumFrames, a.SamplingRate, a.InputSize, Options(a, false),
                                a.TestNumSegment, a.TestNumCrop, validationMode: !multiView), obs);

    static VideoLoader Report(VideoLoader loader, RunObserver obs)
    {
        foreach (var w in loader.Source.Data.Warnings) obs.Warning?.Invoke(w);
        return loader;
    }

    /// <summary>video extract-frames: every clip of the train, val and test indexes decoded once into img_00001.jpg...
    /// beside it (clips already extracted are left alone), so later runs seek in JPEG folders instead of videos.</summary>
    public static string ExtractFrames(VideoArgs a, RunObserver obs)
    {
        var seen = new HashSet<string>();
        int extracted = 0, present = 0, failed = 0;
        foreach (var split in new[] { "train", "val", "test" })
        {
            VideoIndex index;
            try { index = VideoDatasets.Open(a.DataSetName, a.DataPath, split, a.Strict); }
            catch (VideoDataException e) { obs.Info?.Invoke($"{split}: {e.Message}"); continue; }
            foreach (var w in index.Warnings) obs.Warning?.Invoke(w);
            foreach (var entry in index.Entries)
            {
                if (!seen.Add(entry.Path)) continue;
                if (VideoFrames.Find(entry.Path) is not null) { present++; continue; }
                try { VideoFrames.Extract(entry.Path); extracted++; }
                catch (BadSampleException e) when (!a.Strict) { failed++; obs.Warning?.Invoke($"skipped {e.Message}"); }
                if ((extracted + present + failed) % 50 == 0) obs.Info?.Invoke($"{extracted + present + failed}/{seen.Count}+ clips ({split})");
            }
        }
        return $"frames of {extracted} clips extracted, {present} already there, {failed} unreadable ({a.DataSetName}, {a.DataPath})";
    }
}
