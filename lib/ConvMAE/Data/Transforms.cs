using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace ConvMAE.Data;

/// <summary>Turns a decoded image into a fixed-size training or evaluation sample. Randomness comes only from
/// the given <see cref="Random"/>, which the loader derives from (seed, epoch, position), so results do not depend
/// on thread scheduling.</summary>
public interface ISampleTransform
{
    int OutputSize { get; }
    Rgb8Image Apply(Image<Rgb24> image, Random rng);
}

/// <summary>torchvision's RandomResizedCrop parameters (scale and log-uniform aspect ratio, 10 attempts, then a
/// centre crop clamped to the ratio range).</summary>
public static class RandomResizedCrop
{
    public static Rectangle Sample(int width, int height, Random rng, double scaleMin, double scaleMax,
                                   double ratioMin = 3.0 / 4, double ratioMax = 4.0 / 3)
    {
        double area = (double)width * height, logMin = Math.Log(ratioMin), logMax = Math.Log(ratioMax);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (scaleMin + (scaleMax - scaleMin) * rng.NextDouble());
            double ratio = Math.Exp(logMin + (logMax - logMin) * rng.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(target * ratio)), h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w > 0 && h > 0 && w <= width && h <= height)
                return new Rectangle(rng.Next(width - w + 1), rng.Next(height - h + 1), w, h);
        }
        double inRatio = (double)width / height;
        int cw = width, ch = height;
        if (inRatio < ratioMin) ch = (int)Math.Round(width / ratioMin);
        else if (inRatio > ratioMax) cw = (int)Math.Round(height * ratioMax);
        return new Rectangle((width - cw) / 2, (height - ch) / 2, cw, ch);
    }
}

/// <summary>Pretraining (official main_pretrain): RandomResizedCrop(input_size, scale=(0.2, 1.0), bicubic) and a
/// horizontal flip with probability 0.5. Normalisation happens on the batch tensor.</summary>
public sealed class PretrainTransform(int inputSize, double scaleMin = 0.2, double scaleMax = 1.0) : ISampleTransform
{
    public int OutputSize => inputSize;

    public Rgb8Image Apply(Image<Rgb24> image, Random rng)
    {
        var box = RandomResizedCrop.Sample(image.Width, image.Height, rng, scaleMin, scaleMax);
        bool flip = rng.NextDouble() < 0.5;
        using var crop = image.Clone(c =>
        {
            c.Crop(box).Resize(inputSize, inputSize, KnownResamplers.Bicubic);
            if (flip) c.Flip(FlipMode.Horizontal);
        });
        return ImageDecoding.ToRgb8(crop);
    }
}

/// <summary>Evaluation (timm/MAE): resize the shorter side to input_size / crop_pct (bicubic), centre crop
/// input_size. crop_pct 0.875 turns 224 into resize 256, crop 224.</summary>
public sealed class EvalTransform(int inputSize, double cropPct = 0.875) : ISampleTransform
{
    public int OutputSize => inputSize;

    public Rgb8Image Apply(Image<Rgb24> image, Random rng)
    {
        int shorter = (int)(inputSize / cropPct);
        int w = image.Width <= image.Height ? shorter : (int)((long)shorter * image.Width / image.Height);
        int h = image.Width <= image.Height ? (int)((long)shorter * image.Height / image.Width) : shorter;
        using var crop = image.Clone(c => c.Resize(w, h, KnownResamplers.Bicubic)
            .Crop(new Rectangle((int)Math.Round((w - inputSize) / 2.0), (int)Math.Round((h - inputSize) / 2.0), inputSize, inputSize)));
        return ImageDecoding.ToRgb8(crop);
    }
}
/// <summary>Finetuning (timm create_transform, is_training): RandomResizedCrop(scale 0.08..1, bicubic), horizontal
/// flip, then RandAugment when given. Random erasing and mixup act later on tensors.</summary>
public sealed class FinetuneTransform(int inputSize, RandAugment? randAugment) : ISampleTransform
{
    public int OutputSize => inputSize;

    public Rgb8Image Apply(Image<Rgb24> image, Random rng)
    {
        var sample = new PretrainTransform(inputSize, 0.08, 1.0).Apply(image, rng);
        return randAugment is null ? sample : randAugment.Apply(sample, rng);
    }
}
