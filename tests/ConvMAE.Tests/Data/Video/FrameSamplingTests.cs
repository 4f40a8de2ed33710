using ConvMAE.Data.Video;
using Xunit;

namespace ConvMAE.Tests.Data.Video;

/// <summary>
/// VideoMAE's frame indices, against numbers worked out by hand from its formulas (kinetics.py, ssv2.py). Random draws
/// are pinned to their lowest or highest value (<see cref="TestVideos.Extreme"/>) so each case has one answer.
/// </summary>
public class FrameSamplingTests
{
    static readonly Random Low = new TestVideos.Extreme(high: false), High = new TestVideos.Extreme(high: true);

    [Fact]
    public void Pretraining_takes_every_rate_th_frame_from_a_random_start_and_repeats_the_last_when_short()
    {
        var s = new PretrainFrameSampler(NumFrames: 4, SamplingRate: 2);
        // N = 32: skip_length 8, average_duration 25, start ∈ [0, 24].
        Assert.Equal([0, 2, 4, 6], s.Sample(32, 0, Low));
        Assert.Equal([24, 26, 28, 30], s.Sample(32, 0, High));
        // N = 8: average_duration 1, start 0; positions 1, 3, 5, 7 all advance (7 < 8).
        Assert.Equal([0, 2, 4, 6], s.Sample(8, 0, High));
        // N = 7: skip_length 8 > N, start 0; position 5 + 2 = 7 is not < 7, so the read position stops at frame 4.
        Assert.Equal([0, 2, 4, 4], s.Sample(7, 0, High));
        // N = 10, 4 frames at rate 4: 0, 4, 8, then 9 + 4 = 13 ≥ 10 repeats frame 8.
        Assert.Equal([0, 4, 8, 8], new PretrainFrameSampler(4, 4).Sample(10, 0, High));
    }

    [Fact]
    public void Kinetics_training_spreads_clip_len_points_over_clip_len_times_rate_frames()
    {
        var s = new KineticsFrameSampler(ClipLen: 4, SamplingRate: 2);
        // N = 20, converted_len 8: end ~ randint(8, 20). end 8: linspace(0, 8, 4) = 0, 2.67, 5.33, 8 → clip 7 → 0 2 5 7.
        Assert.Equal([0, 2, 5, 7], s.Sample(20, 0, Low));
        // end 19, start 11: 11, 13.67, 16.33, 19 → clip 18 → 11 13 16 18.
        Assert.Equal([11, 13, 16, 18], s.Sample(20, 0, High));
        // 16 frames at rate 4, end 64: step 64/15 = 4.27, not 4.
        Assert.Equal([0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63], new KineticsFrameSampler(16, 4).Sample(100, 0, Low));
    }

    [Fact]
    public void Kinetics_short_videos_spread_n_over_rate_points_then_repeat_the_last_frame()
    {
        // N = 10 ≤ 16 = 4·4: linspace(0, 10, 10 // 4 = 2) = 0, 10, padded with 10, 10, clipped to 9.
        Assert.Equal([0, 9, 9, 9], new KineticsFrameSampler(4, 4).Sample(10, 0, High));
        // N = 20 ≤ 32: linspace(0, 20, 5) = 0 5 10 15 20, padded with three 20s, clipped to 19.
        Assert.Equal([0, 5, 10, 15, 19, 19, 19, 19], new KineticsFrameSampler(8, 4).Sample(20, 0, High));
        // N = converted_len exactly takes the short branch: linspace(0, 8, 4) → 0 2 5 7 with no draw.
        Assert.Equal([0, 2, 5, 7], new KineticsFrameSampler(4, 2).Sample(8, 0, High));
    }

    [Fact]
    public void Kinetics_test_views_are_evenly_placed_windows_of_the_rate_strided_frames()
    {
        var s = new KineticsFrameSampler(ClipLen: 4, SamplingRate: 4, TestNumSegment: 5);
        Assert.Equal(5, s.TemporalViews);
        // N = 40: strided frames 0, 4, ..., 36 (10); step (10 − 4)/4 = 1.5; starts int(0, 1.5, 3, 4.5, 6) = 0 1 3 4 6.
        Assert.Equal([0, 4, 8, 12], s.Sample(40, 0, Low));
        Assert.Equal([4, 8, 12, 16], s.Sample(40, 1, Low));
        Assert.Equal([12, 16, 20, 24], s.Sample(40, 2, Low));
        Assert.Equal([16, 20, 24, 28], s.Sample(40, 3, Low));
        Assert.Equal([24, 28, 32, 36], s.Sample(40, 4, Low));
        // N = 10: strided 0 4 8, padded to 0 4 8 8; step max(0/4, 0) = 0: every view the same.
        Assert.Equal([0, 4, 8, 8], s.Sample(10, 4, Low));
        // One view (VideoMAE divides by zero): centred, start (10 − 4) // 2 = 3.
        Assert.Equal([12, 16, 20, 24], new KineticsFrameSampler(4, 4, 1).Sample(40, 0, Low));
    }

    [Fact]
    public void SSv2_takes_one_frame_per_TSN_segment()
    {
        var s = new SsV2FrameSampler(NumSegments: 8);
        // N = 50: average_duration 6; offsets x·6 + randint(6).
        Assert.Equal([0, 6, 12, 18, 24, 30, 36, 42], s.Sample(50, 0, Low));
        Assert.Equal([5, 11, 17, 23, 29, 35, 41, 47], s.Sample(50, 0, High));
        // N = 5 < 8 segments: every segment reads frame 0.
        Assert.Equal(new int[8], s.Sample(5, 0, High));
    }

    [Fact]
    public void SSv2_test_views_are_segment_starts_then_segment_centres()
    {
        var s = new SsV2FrameSampler(NumSegments: 8, TestNumSegment: 2);
        Assert.Equal(2, s.TemporalViews);
        // tick = 50/8 = 6.25: int(6.25x) and int(3.125 + 6.25x).
        Assert.Equal([0, 6, 12, 18, 25, 31, 37, 43], s.Sample(50, 0, Low));
        Assert.Equal([3, 9, 15, 21, 28, 34, 40, 46], s.Sample(50, 1, Low));
    }

    [Fact]
    public void The_sampler_follows_the_data_set_and_mode()
    {
        Assert.IsType<PretrainFrameSampler>(FrameSampler.For("SSV2", VideoMode.Pretrain, 16, 2));
        Assert.Equal(new SsV2FrameSampler(16, 2), FrameSampler.For("SSV2", VideoMode.Test, 16, 2, testNumSegment: 2));
        Assert.Equal(new SsV2FrameSampler(16), FrameSampler.For("SSV2", VideoMode.Validation, 16, 2));
        Assert.Equal(new KineticsFrameSampler(16, 4, 5), FrameSampler.For("Kinetics-400", VideoMode.Test, 16, 4, 5));
        Assert.Equal(new KineticsFrameSampler(16, 4), FrameSampler.For("Kinetics-400", VideoMode.Train, 16, 4));
    }
}
