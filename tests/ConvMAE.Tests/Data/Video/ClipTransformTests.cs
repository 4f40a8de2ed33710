using ConvMAE.Data;
using ConvMAE.Data.Video;
using SixLabors.ImageSharp;
using Xunit;

namespace ConvMAE.Tests.Data.Video;

/// <summary>The clip transforms apply one set of spatial parameters to every frame; their crop boxes and views are
/// placed as VideoMAE places them.</summary>
public class ClipTransformTests
{
    /// <summary>T frames of W×H: a diagonal texture plus 10·t, so frame t − frame 0 is 10·t wherever the same box
    /// was cut (a bilinear resize keeps a constant offset up to rounding).</summary>
    static Rgb8Image[] Frames(int t, int w, int h) => Enumerable.Range(0, t).Select(f =>
    {
        var img = new Rgb8Image(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) img[x, y, c] = (byte)((x * 5 + y * 2 + c * 20) % 150 + 10 * f);
        return img;
    }).ToArray();

    static void AssertSameBoxEveryFrame(Rgb8Image[] clip)
    {
        for (int f = 1; f < clip.Length; f++)
            for (int i = 0; i < clip[0].Data.Length; i++)
                Assert.InRange(clip[f].Data[i] - clip[0].Data[i], 10 * f - 1, 10 * f + 1);
    }

    [Fact]
    public void Multi_scale_crop_picks_VideoMAE_sizes_and_fixed_offsets()
    {
        var t = new MultiScaleCropTransform(48);
        // 80×60: base 60, sizes int(60·[1, .875, .75, .66]) = 60 52 45 39 (none within 3 of 48); 10 pairs with
        // |i − j| ≤ 1. First pair (60, 60), first offset (0, 0); last pair (39, 39), last offset: steps
        // (80 − 39)//4 = 10 and (60 − 39)//4 = 5, lower-right quarter (3·10, 3·5).
        Assert.Equal(new Rectangle(0, 0, 60, 60), t.SampleCrop(80, 60, new TestVideos.Extreme(false)));
        Assert.Equal(new Rectangle(30, 15, 39, 39), t.SampleCrop(80, 60, new TestVideos.Extreme(true)));
        // Sizes within 3 pixels of input_size snap to it: base 50 at scale .875 is int(43.75) = 43, 2 from 45 → 45.
        Assert.Equal(new Rectangle(0, 0, 45, 45), new MultiScaleCropTransform(45, [.875]).SampleCrop(50, 50, new TestVideos.Extreme(false)));
        Assert.Equal(13, MultiScaleCropTransform.FixOffsets(true, 80, 60, 40, 40).Count);
        Assert.Equal(5, MultiScaleCropTransform.FixOffsets(false, 80, 60, 40, 40).Count);

        for (int seed = 0; seed < 5; seed++)
        {
            var views = t.Apply(Frames(4, 80, 60), new Random(seed));
            Assert.Single(views);
            Assert.All(views[0], f => Assert.Equal((48, 48), (f.Width, f.Height)));
            AssertSameBoxEveryFrame(views[0]);
        }
    }

    [Fact]
    public void Finetune_crop_and_flip_are_shared_by_the_frames_and_flip_follows_the_data_set()
    {
        var kinetics = new FinetuneClipTransform(32, randAugment: null, flip: true);
        var flips = 0;
        for (int seed = 0; seed < 8; seed++)
        {
            var clip = kinetics.Apply(Frames(3, 64, 48), new Random(seed))[0];
            AssertSameBoxEveryFrame(clip);
            // Texture rises with x unless flipped; frame 0's first row says which.
            if (clip[0][0, 0, 0] > clip[0][31, 0, 0]) flips++;
        }
        Assert.InRange(flips, 1, 7);
        Assert.True(FinetuneClipTransform.FlipsFor("Kinetics-400"));
        Assert.False(FinetuneClipTransform.FlipsFor("SSV2"));
        var ssv2 = new FinetuneClipTransform(32, null, flip: false);
        Assert.False(ssv2.Flip);
    }

    [Fact]
    public void RandAugment_draws_once_per_clip_so_identical_frames_stay_identical()
    {
        var ra = RandAugment.Parse("rand-m7-n4-mstd0.5-inc1", ClipOps.VideoMAEHParams());
        var frame = Frames(1, 40, 40)[0];
        int changed = 0;
        for (int seed = 0; seed < 6; seed++)
        {
            var clip = ClipOps.RandAugment([frame, frame.Clone(), frame.Clone(), frame.Clone()], ra, new Random(seed));
            for (int f = 1; f < 4; f++) Assert.Equal(clip[0].Data, clip[f].Data);
            if (!clip[0].Data.SequenceEqual(frame.Data)) changed++;
            // Drawing per frame (the image pipeline's RandAugment) would not keep them equal.
            var rng = new Random(seed);
            var separate = Enumerable.Range(0, 4).Select(_ => ra.Apply(frame, rng)).ToArray();
            if (seed == 0) Assert.Contains(separate.Skip(1), s => !s.Data.SequenceEqual(separate[0].Data));
        }
        Assert.True(changed > 0);
        Assert.Equal(AugmentHParams.DefaultFill, ClipOps.VideoMAEHParams().Fill);    // VideoMAE's _FILL, not the mean
    }

    [Fact]
    public void Eval_crops_are_spaced_along_the_long_side()
    {
        var t = new EvalClipTransform(48, testNumCrop: 3);
        // Wide 80×48: step (80 − 48)/2 = 16 → x = 0, 16, 32.
        Assert.Equal([0, 16, 32], Enumerable.Range(0, 3).Select(k => t.CropBox(80, 48, k).X));
        // Tall 48×100: step 26 → y = 0, 26, 52 (rows are cut when H ≥ W).
        Assert.Equal([0, 26, 52], Enumerable.Range(0, 3).Select(k => t.CropBox(48, 100, k).Y));
        // One crop: centred, int(round(32 / 2)) = 16.
        Assert.Equal(16, new EvalClipTransform(48, 1).CropBox(80, 48, 0).X);

        var frames = Frames(2, 80, 48);
        var views = t.Apply(frames, new Random(0));
        Assert.Equal(3, views.Length);
        for (int k = 0; k < 3; k++)
            for (int f = 0; f < 2; f++)
                Assert.Equal(ClipOps.Crop(frames[f], t.CropBox(80, 48, k)).Data, views[k][f].Data);
        // Frames not yet at the short side are resized first: 160×96 → 80×48.
        Assert.All(t.Apply(Frames(1, 160, 96), new Random(0)), v => Assert.Equal((48, 48), (v[0].Width, v[0].Height)));
    }
}
