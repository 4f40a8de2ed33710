using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SixLabors.ImageSharp.Processing.Processors.Transforms;

namespace ConvMAE.Data.Video;

/// <summary>Per-frame pixel operations of the clip transforms; each applies ONE set of spatial parameters to every
/// frame of a clip (frames all of one size), returning new images.</summary>
public static class ClipOps
{
    /// <summary>Crops <paramref name="box"/> from every frame and resizes it to <paramref name="width"/> ×
    /// <paramref name="height"/> (bilinear by default, through ImageSharp; no resize when the box already has that size).</summary>
    public static Rgb8Image[] CropResize(IReadOnlyList<Rgb8Image> frames, Rectangle box, int width, int height, IResampler? resampler = null)
    {
        var result = new Rgb8Image[frames.Count];
        for (int t = 0; t < frames.Count; t++)
        {
            var f = frames[t];
            if (box.Width == width && box.Height == height) { result[t] = Crop(f, box); continue; }
            using var img = Image.LoadPixelData<Rgb24>(ImageDecoding.Serial, f.Data, f.Width, f.Height);
            img.Mutate(c => c.Crop(box).Resize(width, height, resampler ?? KnownResamplers.Triangle));
            result[t] = ImageDecoding.ToRgb8(img);
        }
        return result;
    }

    /// <summary>A plain crop (row copies).</summary>
    public static Rgb8Image Crop(Rgb8Image f, Rectangle box)
    {
        if (box.X < 0 || box.Y < 0 || box.Right > f.Width || box.Bottom > f.Height)
            throw new ArgumentOutOfRangeException(nameof(box), $"crop {box} outside a {f.Width}×{f.Height} frame");
        var data = new byte[box.Width * box.Height * 3];
        for (int y = 0; y < box.Height; y++)
            Buffer.BlockCopy(f.Data, ((box.Y + y) * f.Width + box.X) * 3, data, y * box.Width * 3, box.Width * 3);
        return new Rgb8Image(box.Width, box.Height, data);
    }

    /// <summary>Resizes every frame so its short side is <paramref name="shortSide"/> (VideoMAE's get_resize_sizes);
    /// frames already that size are returned as they are.</summary>
    public static IReadOnlyList<Rgb8Image> ResizeShortSide(IReadOnlyList<Rgb8Image> frames, int shortSide)
    {
        var (w, h) = VideoDecoder.ShortSideSize(frames[0].Width, frames[0].Height, shortSide);
        return (w, h) == (frames[0].Width, frames[0].Height) ? frames
            : CropResize(frames, new Rectangle(0, 0, frames[0].Width, frames[0].Height), w, h);
    }

    public static Rgb8Image FlipHorizontal(Rgb8Image f)
    {
        var data = new byte[f.Data.Length];
        for (int y = 0; y < f.Height; y++)
            for (int x = 0; x < f.Width; x++)
                Buffer.BlockCopy(f.Data, (y * f.Width + x) * 3, data, (y * f.Width + f.Width - 1 - x) * 3, 3);
        return new Rgb8Image(f.Width, f.Height, data);
    }

    /// <summary>
    /// RandAugment on a clip as VideoMAE's rand_augment.py does it (AugmentOp.__call__ on a list, :364-382): the op
    /// choices, each op's fire coin, magnitude and sign are drawn ONCE and the op runs on every frame with those
    /// arguments. Quirk kept: with a random filter (train_interpolation 'random'), the filter is picked per frame
    /// (_interpolation is called inside each frame's op); VideoMAE's default 'bicubic' fixes it.
    /// </summary>
    public static Rgb8Image[] RandAugment(IReadOnlyList<Rgb8Image> frames, RandAugment ra, Random rng)
    {
        var chosen = new AugmentOp[ra.NumLayers];
        for (int i = 0; i < chosen.Length; i++) chosen[i] = ra.Ops[rng.Next(ra.Ops.Count)];
        var cur = frames.ToArray();
        foreach (var op in chosen)
        {
            if (op.Prob < 1.0 && rng.NextDouble() > op.Prob) continue;
            double m = op.SampleMagnitude(rng);
            double arg = AugmentOp.LevelToArg(op.Kind, m, rng, op.HParams.TranslatePct);
            for (int t = 0; t < cur.Length; t++) cur[t] = op.ApplyWithArg(cur[t], arg, rng);
        }
        return cur;
    }

    /// <summary>The hparams VideoMAE's create_random_augment hands its ops (video_transforms.py:641-653): the train
    /// interpolation (default bicubic; 'random' picks per call) and NO img_mean, so rotate/shear/translate fill with
    /// rand_augment.py's _FILL (128, 128, 128), not the ImageNet mean timm's image pipeline uses.</summary>
    public static AugmentHParams VideoMAEHParams(string interpolation = "bicubic") => new()
    {
        Fill = AugmentHParams.DefaultFill,
        Interpolation = interpolation switch { "random" => null, "bicubic" => PilResample.Bicubic, _ => PilResample.Bilinear },
    };
}
