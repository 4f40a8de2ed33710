using ConvMAE.Data;
using ConvMAE.Data.Video;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Data.Video;

/// <summary>Erasing of [B,3,T,H,W] clips: VideoMAE's released behaviour (one box through all frames) and the
/// per-frame boxes timm's RandomErasing gives on the [T,C,H,W] permute, plus VideoMAE's num_splits = recount quirk.</summary>
public class VideoErasingTests
{
    /// <summary>Which pixels of frame f of clip b were zeroed.</summary>
    static bool[] Mask(Tensor clips, int b, int f)
    {
        using var frame = clips[b, 0, f].flatten();
        return frame.data<float>().ToArray().Select(v => v == 0f).ToArray();
    }

    [Fact]
    public void VideoMAE_erases_one_box_through_every_frame_of_a_clip()
    {
        using var scope = NewDisposeScope();
        var clips = ones(new long[] { 2, 3, 6, 32, 32 });
        var erasing = new RandomErasing(probability: 1.0, mode: EraseMode.Const);
        var boxes = VideoErasing.Apply(clips, erasing, [new Random(1), new Random(2)], ClipEraseBoxes.Cube);
        for (int b = 0; b < 2; b++)
        {
            Assert.Single(boxes[b][0]);
            Assert.All(boxes[b], fb => Assert.Equal(boxes[b][0], fb));
            var first = Mask(clips, b, 0);
            Assert.Contains(true, first);
            for (int f = 1; f < 6; f++) Assert.Equal(first, Mask(clips, b, f));
        }
    }

    [Fact]
    public void Per_frame_mode_draws_a_box_for_each_frame_as_timm_on_the_permuted_clip()
    {
        using var scope = NewDisposeScope();
        var clips = ones(new long[] { 1, 3, 6, 32, 32 });
        var erasing = new RandomErasing(probability: 1.0, mode: EraseMode.Const);
        var boxes = VideoErasing.Apply(clips, erasing, [new Random(3)], ClipEraseBoxes.PerFrame);
        Assert.All(boxes[0], fb => Assert.Single(fb));
        Assert.True(boxes[0].Select(fb => fb[0]).Distinct().Count() > 1);      // the box moves between frames
        for (int f = 0; f < 6; f++)
        {
            var box = boxes[0][f][0];
            var mask = Mask(clips, 0, f);
            Assert.Equal(box.Height * box.Width, mask.Count(m => m));
            Assert.True(mask[box.Top * 32 + box.Left]);
        }
        // Same Random, same boxes: the erasing is fixed by the clip's Random alone.
        var again = ones(new long[] { 1, 3, 6, 32, 32 });
        Assert.Equal(boxes[0].Select(fb => fb[0]), VideoErasing.Apply(again, erasing, [new Random(3)], ClipEraseBoxes.PerFrame)[0].Select(fb => fb[0]));
    }

    [Fact]
    public void Recount_above_one_leaves_the_first_frames_alone_as_VideoMAE_num_splits_does()
    {
        using var scope = NewDisposeScope();
        var erasing = VideoErasing.FromArgs(reprob: 1.0, remode: "const", recount: 2);
        Assert.Equal(2, erasing.NumSplits);
        foreach (var mode in new[] { ClipEraseBoxes.Cube, ClipEraseBoxes.PerFrame })
        {
            var clips = ones(new long[] { 1, 3, 8, 32, 32 });
            var boxes = VideoErasing.Apply(clips, erasing, [new Random(5)], mode);
            for (int f = 0; f < 4; f++) { Assert.Empty(boxes[0][f]); Assert.DoesNotContain(true, Mask(clips, 0, f)); }
            for (int f = 4; f < 8; f++) Assert.Contains(true, Mask(clips, 0, f));
        }
    }

    [Fact]
    public void Pixel_mode_fills_each_frame_with_its_own_noise_inside_the_shared_box()
    {
        using var scope = NewDisposeScope();
        var clips = zeros(new long[] { 1, 3, 3, 24, 24 });
        var boxes = VideoErasing.Apply(clips, VideoErasing.FromArgs(reprob: 1.0), [new Random(8)]);
        var box = boxes[0][0][0];
        var a = clips[0].select(1, 0).narrow(1, box.Top, box.Height).narrow(2, box.Left, box.Width);
        var b = clips[0].select(1, 1).narrow(1, box.Top, box.Height).narrow(2, box.Left, box.Width);
        Assert.True(a.abs().sum().item<float>() > 0);
        Assert.False(a.allclose(b));                                          // fresh noise per frame
        Assert.Equal(3L * 3 * box.Height * box.Width, clips.ne(0).sum().item<long>());   // nothing outside the box
    }
}
