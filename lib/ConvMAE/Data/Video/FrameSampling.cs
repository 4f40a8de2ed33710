namespace ConvMAE.Data.Video;

/// <summary>What a clip is read for: VideoMAE's pretraining dataset (class VideoMAE), or the finetuning datasets'
/// modes 'train', 'validation' and 'test' (VideoClsDataset for Kinetics, SSVideoClsDataset for SSv2).</summary>
public enum VideoMode { Pretrain, Train, Validation, Test }

/// <summary>
/// Which frames of a video of <c>frameCount</c> frames make a clip, exactly as VideoMAE computes them (line numbers
/// are VideoMAE 14ef8d8). <see cref="TemporalViews"/> clips per video in test mode, one otherwise; randomness comes
/// only from the given Random (VideoMAE uses NumPy's global generator: same distributions, different streams).
/// </summary>
public abstract record FrameSampler
{
    public abstract int TemporalViews { get; }
    /// <summary>Frame indices (0-based, in clip order, repeats allowed) of temporal view <paramref name="view"/>.</summary>
    public abstract int[] Sample(int frameCount, int view, Random rng);

    /// <summary>The sampler VideoMAE uses for a data set and mode. Pretraining is dataset-independent
    /// (build_pretraining_dataset, datasets.py:38-54: new_length = num_frames, new_step = sampling_rate); Kinetics
    /// finetuning uses clip_len = num_frames at frame_sample_rate; SSv2 uses num_segment = num_frames TSN segments of
    /// one frame (datasets.py:102-116, clip_len=1).</summary>
    public static FrameSampler For(string dataSet, VideoMode mode, int numFrames, int samplingRate, int testNumSegment = 5) =>
        mode == VideoMode.Pretrain ? new PretrainFrameSampler(numFrames, samplingRate)
        : VideoDatasets.IsSsV2(dataSet) ? new SsV2FrameSampler(numFrames, mode == VideoMode.Test ? testNumSegment : null)
        : new KineticsFrameSampler(numFrames, samplingRate, mode == VideoMode.Test ? testNumSegment : null);

    /// <summary>NumPy's <c>np.linspace(start, stop, num)</c> with endpoint: <c>i·step + start</c> with
    /// step = (stop − start)/(num − 1), the last element set to stop exactly. The truncation that follows in VideoMAE
    /// (astype(np.int64)) sees these doubles, so 3·(8/3) = 7.999… style values matter and are reproduced.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        if (num <= 0) return [];
        var y = new double[num];
        if (num == 1) { y[0] = start; return y; }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[^1] = stop;
        return y;
    }
}

/// <summary>
/// Pretraining (kinetics.py class VideoMAE, :515-556, num_segments 1, no temporal jitter; used for Kinetics and SSv2
/// alike): skip_length = num_frames·sampling_rate; a start drawn uniformly from [0, N − skip_length] when the video
/// is long enough (average_duration = N − skip_length + 1 &gt; 0), else 0; then frames start, start+rate, ...
/// <para>Short-video quirk (:549): the read position only advances while position + rate &lt; N (1-based position,
/// strictly less), so a short video repeats its last reachable frame, e.g. N=10, 4 frames at rate 4 → 0, 4, 8, 8;
/// and the test is strict, so even a long enough video never advances onto the position N exactly.</para>
/// </summary>
public sealed record PretrainFrameSampler(int NumFrames, int SamplingRate) : FrameSampler
{
    public override int TemporalViews => 1;

    public override int[] Sample(int frameCount, int view, Random rng)
    {
        int skip = NumFrames * SamplingRate;
        int average = frameCount - skip + 1;                      // (N − skip_length + 1) // num_segments, num_segments = 1
        // :522's middle branch (N > max(num_segments, skip_length) with average ≤ 0) cannot happen for one segment.
        int offset = (average > 0 ? rng.Next(average) : 0) + 1;   // offsets + 1: VideoMAE's positions are 1-based
        var ids = new int[NumFrames];
        for (int i = 0; i < NumFrames; i++)
        {
            ids[i] = offset - 1;                                  // skip_offsets are 0 without temporal jitter
            if (offset + SamplingRate < frameCount) offset += SamplingRate;
        }
        return ids;
    }
}

/// <summary>
/// Kinetics finetuning (VideoClsDataset.loadvideo_decord, kinetics.py:222-272, num_segment 1).
/// <para>Train and validation (:252-265): converted_len = clip_len·rate. A video longer than that gets
/// end ~ randint(converted_len, N), start = end − converted_len, indices linspace(start, end, clip_len) clipped to
/// [start, end − 1] and truncated. Quirk: linspace spreads clip_len points over converted_len frames, so the step is
/// rate·clip_len/(clip_len − 1), not rate (16 frames at rate 4 span 64 frames with steps of 4.27). A video of at
/// most converted_len frames (quirk, :258-260) gets linspace(0, N, N // rate) padded with N, clipped to N − 1: the
/// first N // rate points spread over the whole video, then its last frame repeated. Validation draws a random
/// start too (VideoMAE's 'validation' mode uses the training sampling).</para>
/// <para>Test (:243-249 and :141-152): every rate-th frame 0, rate, 2·rate, ... (padded with the last to clip_len),
/// then view k of test_num_segment takes clip_len consecutive entries from int(k·step),
/// step = max((len − clip_len)/(test_num_segment − 1), 0). VideoMAE divides by zero for test_num_segment 1; here a
/// single view is centred instead (start (len − clip_len) // 2).</para>
/// </summary>
public sealed record KineticsFrameSampler(int ClipLen, int SamplingRate, int? TestNumSegment = null) : FrameSampler
{
    public override int TemporalViews => TestNumSegment ?? 1;

    public override int[] Sample(int frameCount, int view, Random rng) =>
        TestNumSegment is { } segments ? TestIndices(frameCount, segments, view) : TrainIndices(frameCount, rng);

    int[] TrainIndices(int n, Random rng)
    {
        int converted = ClipLen * SamplingRate, segLen = n;   // seg_len = len(vr) // num_segment
        double[] index;
        int lo, hi;
        if (segLen <= converted)
        {
            int m = segLen / SamplingRate;
            index = [.. Linspace(0, segLen, m), .. Enumerable.Repeat((double)segLen, ClipLen - m)];
            (lo, hi) = (0, segLen - 1);
        }
        else
        {
            int end = rng.RandIntExclusive(converted, segLen), start = end - converted;
            index = Linspace(start, end, ClipLen);
            (lo, hi) = (start, end - 1);
        }
        return index.Select(x => (int)Math.Clamp(x, lo, hi)).ToArray();
    }

    int[] TestIndices(int n, int segments, int chunk)
    {
        var all = new List<int>();
        for (int i = 0; i < n; i += SamplingRate) all.Add(i);
        while (all.Count < ClipLen) all.Add(all[^1]);
        int start = segments > 1
            ? (int)(chunk * Math.Max(1.0 * (all.Count - ClipLen) / (segments - 1), 0))
            : (all.Count - ClipLen) / 2;
        return all.GetRange(start, ClipLen).ToArray();
    }
}

/// <summary>
/// SSv2 finetuning: TSN segments of one frame each (SSVideoClsDataset.loadvideo_decord, ssv2.py:217-263).
/// <para>Train and validation (:251-259): average_duration = N // num_segment; frame x·average + randint(average) of
/// each segment x. Quirk: a video shorter than num_segment frames gets frame 0 for every segment (the middle branch,
/// N &gt; num_segment with average 0, cannot happen), and validation draws random offsets too.</para>
/// <para>Test (:238-248 and :140-147): tick = N / num_segment; VideoMAE gathers int(tick·x) and int(tick/2 + tick·x),
/// sorts them, and view chunk takes every second entry from chunk: view 0 the segment starts, view 1 the segment
/// centres. Here view k of test_num_segment takes int(tick·k/test_num_segment + tick·x), which is exactly that for
/// test_num_segment ≤ 2 (VideoMAE's SSv2 setting is 2); VideoMAE's own code gives views of the wrong length beyond 2,
/// this keeps shifting the offset evenly.</para>
/// </summary>
public sealed record SsV2FrameSampler(int NumSegments, int? TestNumSegment = null) : FrameSampler
{
    public override int TemporalViews => TestNumSegment ?? 1;

    public override int[] Sample(int frameCount, int view, Random rng)
    {
        var ids = new int[NumSegments];
        if (TestNumSegment is { } views)
        {
            double tick = frameCount / (double)NumSegments;
            for (int x = 0; x < NumSegments; x++) ids[x] = (int)(tick * view / views + tick * x);
            return ids;
        }
        int average = frameCount / NumSegments;
        if (average > 0)
            for (int x = 0; x < NumSegments; x++) ids[x] = x * average + rng.Next(average);
        return ids;
    }
}
