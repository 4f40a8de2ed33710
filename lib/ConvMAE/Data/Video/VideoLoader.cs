namespace ConvMAE.Data.Video;

/// <summary>One sample: its views' pixels uint8 [Views, T, S, S, 3] and its class.</summary>
public sealed record VideoClip(byte[] Pixels, int Views, int Frames, int Size, int Label);

/// <summary>
/// Clips of a <see cref="VideoIndex"/>: for each temporal view of the <see cref="FrameSampler"/>, its frame indices;
/// the union of all views' frames decoded once (seeking, <see cref="ClipReader"/>); then the
/// <see cref="IClipTransform"/> per temporal view. Views = temporal × spatial views, temporal-major as VideoMAE's test
/// list (for ck in segments: for cp in crops). A bad video throws <see cref="BadVideoException"/> naming it.
/// </summary>
public sealed class VideoClipSource(VideoIndex data, FrameSampler sampler, IClipTransform transform) : ISampleSource<VideoClip>
{
    public VideoIndex Data => data;
    public FrameSampler Sampler => sampler;
    public IClipTransform Transform => transform;
    public int Count => data.Count;
    public int Views => sampler.TemporalViews * transform.SpatialViews;
    public string Describe => $"{data.Source} ({data.Count} clips, {data.NumClasses} classes)";

    public VideoClip Load(int index, Random rng)
    {
        var entry = data.Entries[index];
        int n = ClipReader.FrameCount(entry.Path);
        var perView = Enumerable.Range(0, sampler.TemporalViews).Select(v => sampler.Sample(n, v, rng)).ToArray();
        var all = perView.SelectMany(v => v).Distinct().Order().ToArray();
        var frames = ClipReader.Read(entry.Path, all, transform.DecodeShortSide);
        var byIndex = all.Select((f, k) => (f, k)).ToDictionary(t => t.f, t => frames[t.k]);
        int t = perView[0].Length, s = transform.OutputSize, stride = t * s * s * 3;
        var pixels = new byte[Views * stride];
        int view = 0;
        foreach (var ids in perView)
            foreach (var clip in transform.Apply(ids.Select(i => byIndex[i]).ToArray(), rng))
            {
                for (int f = 0; f < t; f++)
                {
                    var img = clip[f];
                    if (img.Width != s || img.Height != s) throw new InvalidOperationException($"{transform.GetType().Name} gave a {img.Width}×{img.Height} frame, {s}×{s} expected");
                    Buffer.BlockCopy(img.Data, 0, pixels, view * stride + f * s * s * 3, s * s * 3);
                }
                view++;
            }
        return new VideoClip(pixels, Views, t, s, entry.Label);
    }
}

/// <summary>
/// Batches of clips: the kit's <see cref="SampleLoader{TSample,THost}"/> (deterministic from seed, epoch and position;
/// a bad video is left out with a counted warning unless Strict) packing <see cref="VideoHostBatch"/>es.
/// </summary>
public sealed class VideoLoader(VideoClipSource source, LoaderOptions options)
    : SampleLoader<VideoClip, VideoHostBatch>(source, Collate, options)
{
    public VideoClipSource Source => source;

    /// <summary>Packs loaded clips (in order) into a host batch; also used to batch chosen clips outside a loader.</summary>
    public static VideoHostBatch Collate(BatchSlot slot, IReadOnlyList<VideoClip> clips)
    {
        if (clips.Count == 0) return new VideoHostBatch(slot.Epoch, slot.Index, [], 0, 1, 0, 0, [], slot.SampleIndices);
        var c0 = clips[0];
        var pixels = new byte[clips.Sum(c => c.Pixels.Length)];
        int at = 0;
        foreach (var c in clips) { Buffer.BlockCopy(c.Pixels, 0, pixels, at, c.Pixels.Length); at += c.Pixels.Length; }
        return new VideoHostBatch(slot.Epoch, slot.Index, pixels, clips.Count, c0.Views, c0.Frames, c0.Size,
                                  clips.Select(c => (long)c.Label).ToArray(), slot.SampleIndices);
    }

    /// <summary>
    /// Pretraining (run_mae_pretraining: build_pretraining_dataset): multi-scale crop, no flip; frames num_frames at
    /// sampling_rate. Defaults are VideoMAE's (16 frames, rate 4 on Kinetics; its SSv2 scripts use rate 2).
    /// </summary>
    public static VideoLoader Pretrain(string dataSet, string dataPath, string split, int numFrames, int samplingRate, int inputSize,
                                       LoaderOptions options) =>
        new(new VideoClipSource(Index(dataSet, dataPath, split, options), FrameSampler.For(dataSet, VideoMode.Pretrain, numFrames, samplingRate),
                                new MultiScaleCropTransform(inputSize)), options);

    /// <summary>Finetuning (VideoMAE 'train' mode): RandAugment <paramref name="aa"/> (same draws on every frame),
    /// random-resized crop, horizontal flip unless SSV2 (or as <paramref name="flip"/> says). Random erasing
    /// (<see cref="VideoErasing"/>) and mixup/cutmix act on the batch tensor. <paramref name="numSample"/> &gt; 1 is
    /// VideoMAE's repeated augmentation (<see cref="RepeatedClipTransform"/>: Views = num_sample, labels one per sample).
    /// The default 1 keeps the spec's Views = 1; VideoMAE's own default is 2.</summary>
    public static VideoLoader Finetune(string dataSet, string dataPath, string split, int numFrames, int samplingRate, int inputSize,
                                       LoaderOptions options, string? aa = "rand-m7-n4-mstd0.5-inc1", bool? flip = null,
                                       string trainInterpolation = "bicubic", int numSample = 1, double minCropScale = 0.08)
    {
        IClipTransform t = FinetuneClipTransform.FromArgs(inputSize, aa, flip ?? FinetuneClipTransform.FlipsFor(dataSet), trainInterpolation, minCropScale);
        if (numSample > 1) t = new RepeatedClipTransform(t, numSample);
        return new(new VideoClipSource(Index(dataSet, dataPath, split, options), FrameSampler.For(dataSet, VideoMode.Train, numFrames, samplingRate), t), options);
    }

    /// <summary>Evaluation. <paramref name="testNumSegment"/> × <paramref name="testNumCrop"/> views per clip
    /// (VideoMAE 'test' mode; its defaults 5 × 3 for Kinetics, 2 × 3 for SSv2), or with
    /// <paramref name="validationMode"/> VideoMAE's single-view 'validation' mode (random temporal start as in training,
    /// centre crop). Use Shuffle = false.</summary>
    public static VideoLoader Eval(string dataSet, string dataPath, string split, int numFrames, int samplingRate, int inputSize,
                                   LoaderOptions options, int testNumSegment = 5, int testNumCrop = 3, bool validationMode = false) =>
        new(new VideoClipSource(Index(dataSet, dataPath, split, options),
                                FrameSampler.For(dataSet, validationMode ? VideoMode.Validation : VideoMode.Test, numFrames, samplingRate, testNumSegment),
                                new EvalClipTransform(inputSize, validationMode ? 1 : testNumCrop)), options);

    static VideoIndex Index(string dataSet, string dataPath, string split, LoaderOptions options)
    {
        var index = VideoDatasets.Open(dataSet, dataPath, split, options.Strict);
        if (index.Count == 0) throw new VideoDataException($"{index.Source}: no usable clips" + (index.Warnings.Count > 0 ? $" ({index.Warnings[0]})" : ""));
        return index;
    }
}
