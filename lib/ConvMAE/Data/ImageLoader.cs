namespace ConvMAE.Data;

/// <summary>One image sample: its pixels after the transform and its class.</summary>
public sealed record LabeledImage(Rgb8Image Image, int Label);

/// <summary>An <see cref="ImageFolder"/> read through a transform: decode (or take the decoded image from
/// <paramref name="cache"/>), transform (randomness from the given Random only, so results do not depend on thread
/// scheduling).</summary>
public sealed class ImageFolderSource(ImageFolder data, ISampleTransform transform, DecodedImageCache? cache = null)
    : ISampleSource<LabeledImage>
{
    public int Count => data.Count;
    public string Describe => $"{data.Root} ({data.Count} images)";

    public LabeledImage Load(int index, Random rng)
    {
        var (path, label) = data.Samples[index];
        using var image = cache?.Load(index, path) ?? ImageDecoding.Load(path);
        return new LabeledImage(transform.Apply(image, rng), label);
    }
}

/// <summary>
/// Batches of fixed-size images with class labels from an <see cref="ImageFolder"/> (pretraining, finetuning, linear
/// probing): the generic <see cref="SampleLoader{TSample,THost}"/> with a collate that packs the images into one
/// uint8 NHWC buffer (<see cref="HostBatch"/>). A corrupt image is left out with a counted warning unless Strict.
/// Decoded images are kept in memory when the folder fits <see cref="DecodedImageCache.BudgetBytes"/> (or the budget
/// given; 0 decodes every time, as the official loader does): the same pixels, so the same batches.
/// </summary>
public sealed class ImageLoader : SampleLoader<LabeledImage, HostBatch>
{
    public ImageLoader(ImageFolder data, ISampleTransform transform, LoaderOptions options, long? cacheBudgetBytes = null)
        : this(data, transform, options, DecodedImageCache.For(data, cacheBudgetBytes ?? DecodedImageCache.BudgetBytes)) { }

    ImageLoader(ImageFolder data, ISampleTransform transform, LoaderOptions options, DecodedImageCache? cache)
        : base(new ImageFolderSource(data, transform, cache), (slot, samples) => Collate(slot, samples, transform.OutputSize), options)
    {
        Data = data;
        Cache = cache;
    }

    public ImageFolder Data { get; }
    /// <summary>The decoded images kept for this folder, or null when they are decoded every time.</summary>
    public DecodedImageCache? Cache { get; }
    /// <summary>Images left out because they could not be decoded, since this loader was made.</summary>
    public int SkippedImages => SkippedSamples;

    static HostBatch Collate(BatchSlot slot, IReadOnlyList<LabeledImage> samples, int size)
    {
        int stride = size * size * 3;
        var pixels = new byte[samples.Count * stride];
        for (int i = 0; i < samples.Count; i++)
            Buffer.BlockCopy(samples[i].Image.Data, 0, pixels, i * stride, stride);
        return new HostBatch(slot.Epoch, slot.Index, pixels, samples.Count, size, samples.Select(s => (long)s.Label).ToArray(), slot.SampleIndices);
    }
}
