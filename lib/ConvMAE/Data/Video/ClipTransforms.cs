using SixLabors.ImageSharp;

namespace ConvMAE.Data.Video;

/// <summary>
/// Turns the T decoded frames of one temporal view into <see cref="SpatialViews"/> clips of T frames of
/// <see cref="OutputSize"/>² pixels, with the same spatial parameters for every frame. Randomness comes only from
/// the given Random (derived by the loader from seed, epoch and position).
/// </summary>
public interface IClipTransform
{
    int OutputSize { get; }
    int SpatialViews { get; }
    /// <summary>Short side the frames should be decoded at (0: native size, as VideoMAE's decord reader gives them).</summary>
    int DecodeShortSide { get; }
    Rgb8Image[][] Apply(IReadOnlyList<Rgb8Image> frames, Random rng);
}

/// <summary>
/// Pretraining (DataAugmentationForVideoMAE, datasets.py:9-24): GroupMultiScaleCrop(input_size, [1, .875, .75, .66])
/// with max_distort 1, fix_crop and more_fix_crop (transforms.py:91-161), then a bilinear resize to input_size; no
/// flip. The crop side candidates are int(short_side · scale), snapped to input_size when within 3 pixels; a (w, h)
/// pair is drawn among those whose scale indices differ by at most max_distort, then one of 13 fixed offsets (corners,
/// centre, edge centres, quarter points on a grid of (image − crop) // 4).
/// </summary>
public sealed class MultiScaleCropTransform(int inputSize, double[]? scales = null, int maxDistort = 1, bool fixCrop = true, bool moreFixCrop = true)
    : IClipTransform
{
    public double[] Scales { get; } = scales ?? [1, .875, .75, .66];
    public int OutputSize => inputSize;
    public int SpatialViews => 1;
    public int DecodeShortSide => 0;

    public Rgb8Image[][] Apply(IReadOnlyList<Rgb8Image> frames, Random rng) =>
        [ClipOps.CropResize(frames, SampleCrop(frames[0].Width, frames[0].Height, rng), inputSize, inputSize)];

    /// <summary>GroupMultiScaleCrop._sample_crop_size: the crop box for a W × H frame.</summary>
    public Rectangle SampleCrop(int imageW, int imageH, Random rng)
    {
        int baseSize = Math.Min(imageW, imageH);
        var sizes = Scales.Select(s => (int)(baseSize * s)).ToArray();
        var cropH = sizes.Select(x => Math.Abs(x - inputSize) < 3 ? inputSize : x).ToArray();
        var cropW = cropH; // input_size is square, so crop_w equals crop_h
        var pairs = new List<(int W, int H)>();
        for (int i = 0; i < cropH.Length; i++)
            for (int j = 0; j < cropW.Length; j++)
                if (Math.Abs(i - j) <= maxDistort) pairs.Add((cropW[j], cropH[i]));
        var (w, h) = pairs[rng.Next(pairs.Count)];                      // random.choice(pairs)
        if (!fixCrop) return new Rectangle(rng.RandIntInclusive(0, imageW - w), rng.RandIntInclusive(0, imageH - h), w, h);
        var offsets = FixOffsets(moreFixCrop, imageW, imageH, w, h);
        var (x, y) = offsets[rng.Next(offsets.Count)];                  // random.choice(offsets)
        return new Rectangle(x, y, w, h);
    }

    /// <summary>GroupMultiScaleCrop.fill_fix_offset, in VideoMAE's order (5 offsets, 13 with more_fix_crop).</summary>
    public static List<(int X, int Y)> FixOffsets(bool moreFixCrop, int imageW, int imageH, int cropW, int cropH)
    {
        int ws = (imageW - cropW) / 4, hs = (imageH - cropH) / 4;
        var r = new List<(int, int)> { (0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs) };
        if (moreFixCrop)
            r.AddRange([(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0), (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]);
        return r;
    }
}

/// <summary>
/// Finetuning (VideoClsDataset._aug_frame, kinetics.py:160-219; the same in ssv2.py:155-214), in VideoMAE's order:
/// RandAugment on the full decoded frames (quirk: BEFORE the crop, unlike timm's image pipeline), one set of draws for
/// all frames; then spatial_sampling's random_resized_crop (scale [0.08, 1], ratio [0.75, 1.3333], the kit's
/// <see cref="RandomResizedCrop"/> draws) resized to input_size; then a horizontal flip with probability 0.5 when
/// <paramref name="flip"/> (VideoMAE: off for SSV2, whose labels name directions; on otherwise).
/// VideoMAE resizes with torch interpolate (bilinear, no antialias) on the normalised tensor; here ImageSharp's
/// bilinear on bytes (antialiased when shrinking): the same crop, slightly smoother pixels.
/// Random erasing happens later on the batch (<see cref="VideoErasing"/>).
/// </summary>
public sealed class FinetuneClipTransform(int inputSize, RandAugment? randAugment, bool flip,
                                          double scaleMin = 0.08, double scaleMax = 1.0, double ratioMin = 0.75, double ratioMax = 1.3333)
    : IClipTransform
{
    public int OutputSize => inputSize;
    public int SpatialViews => 1;
    public int DecodeShortSide => 0;
    public bool Flip => flip;

    /// <summary>VideoMAE's flip switch: random_horizontal_flip=False if args.data_set == 'SSV2' else True
    /// (kinetics.py:200), since SSv2's classes name directions ("from left to right").</summary>
    public static bool FlipsFor(string dataSet) => !VideoDatasets.IsSsV2(dataSet);

    /// <summary>VideoMAE's --aa string (default 'rand-m7-n4-mstd0.5-inc1') with VideoMAE's op hparams.</summary>
    public static FinetuneClipTransform FromArgs(int inputSize, string? aa = "rand-m7-n4-mstd0.5-inc1", bool flip = true, string trainInterpolation = "bicubic",
                                                 double scaleMin = 0.08) =>
        new(inputSize, string.IsNullOrEmpty(aa) ? null : RandAugment.Parse(aa, ClipOps.VideoMAEHParams(trainInterpolation)), flip, scaleMin);

    public Rgb8Image[][] Apply(IReadOnlyList<Rgb8Image> frames, Random rng)
    {
        IReadOnlyList<Rgb8Image> clip = randAugment is null ? frames : ClipOps.RandAugment(frames, randAugment, rng);
        var box = RandomResizedCrop.Sample(clip[0].Width, clip[0].Height, rng, scaleMin, scaleMax, ratioMin, ratioMax);
        var outFrames = ClipOps.CropResize(clip, box, inputSize, inputSize);
        if (flip && rng.NextDouble() < 0.5)                               // horizontal_flip: np.random.uniform() < prob
            for (int t = 0; t < outFrames.Length; t++) outFrames[t] = ClipOps.FlipHorizontal(outFrames[t]);
        return [outFrames];
    }
}

/// <summary>
/// Evaluation. Test mode (kinetics.py:137-152, ssv2.py:134-147): frames resized so the short side is input_size
/// (short_side_size, VideoMAE default 224 = input_size), then <c>testNumCrop</c> square crops of that side spaced
/// along the long side: crop k starts at int(k · (long − short)/(test_num_crop − 1)) (rows when H ≥ W, else columns).
/// VideoMAE divides by zero for test_num_crop 1; one crop is centred here, which is also VideoMAE's 'validation'
/// mode (Resize + CenterCrop, x1 = int(round((w − size)/2))).
/// </summary>
public sealed class EvalClipTransform(int inputSize, int testNumCrop = 3) : IClipTransform
{
    public int OutputSize => inputSize;
    public int SpatialViews => testNumCrop;
    public int DecodeShortSide => inputSize;

    public Rgb8Image[][] Apply(IReadOnlyList<Rgb8Image> frames, Random rng)
    {
        var clip = ClipOps.ResizeShortSide(frames, inputSize);
        int w = clip[0].Width, h = clip[0].Height;
        var views = new Rgb8Image[testNumCrop][];
        for (int k = 0; k < testNumCrop; k++)
        {
            var box = CropBox(w, h, k);
            views[k] = clip.Select(f => ClipOps.Crop(f, box)).ToArray();
        }
        return views;
    }

    /// <summary>Spatial view <paramref name="k"/>'s crop in a frame already resized to short side input_size.</summary>
    public Rectangle CropBox(int w, int h, int k)
    {
        int longSide = Math.Max(w, h);
        int start = testNumCrop > 1
            ? (int)(k * (1.0 * (longSide - inputSize) / (testNumCrop - 1)))
            : (int)Math.Round((longSide - inputSize) / 2.0, MidpointRounding.ToEven);
        return h >= w ? new Rectangle(0, start, inputSize, inputSize) : new Rectangle(start, 0, inputSize, inputSize);
    }
}

/// <summary>
/// VideoMAE's repeated augmentation (--num_sample, default 2 in run_class_finetuning.py; kinetics.py:96-106): the clip
/// is decoded once and <paramref name="numSample"/> independent draws of <paramref name="inner"/> are made from it,
/// returned as views. The loader packs them as Views (sample-major, as VideoMAE's collate lays the repeats out); the
/// labels stay one per sample, so a training step repeats each label Views times (repeat_interleave).
/// </summary>
public sealed class RepeatedClipTransform(IClipTransform inner, int numSample) : IClipTransform
{
    public IClipTransform Inner => inner;
    public int OutputSize => inner.OutputSize;
    public int SpatialViews => numSample * inner.SpatialViews;
    public int DecodeShortSide => inner.DecodeShortSide;

    public Rgb8Image[][] Apply(IReadOnlyList<Rgb8Image> frames, Random rng) =>
        Enumerable.Range(0, numSample).SelectMany(_ => inner.Apply(frames, rng)).ToArray();
}
