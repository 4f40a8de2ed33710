using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ConvMAE.Data;

/// <summary>
/// Decoded images of one <see cref="ImageFolder"/> kept in memory after their first decode, so later epochs only crop
/// and resize. Why: on the demo data (2,600 JPEGs of 96 px) decoding is about 0.2 ms of the loader's 0.3 ms per image,
/// and with the loader running between steps it was about a fifth of a tiny-preset pretraining step. The official
/// loader decodes every epoch; the pixels handed to the transform are the same either way, so results do not change.
///
/// Only used when the whole folder fits the budget, estimated from the headers of up to 16 files spread over it
/// (decoded size = width × height × 3), so a large dataset costs no memory for a cache it could barely use. Unreadable
/// files are never kept: they fail (and are skipped, counted) in every epoch as without the cache.
/// Thread-safe: the loader's workers fill it concurrently.
/// </summary>
public sealed class DecodedImageCache
{
    readonly Rgb8Image?[] slots;
    readonly long budgetBytes;
    long usedBytes;

    static long? budgetSet;

    /// <summary>The bytes a folder may take: set here (a notebook may), or <c>CONVMAE_DECODED_CACHE_MB</c> in MiB,
    /// default 512; 0 turns the cache off. Read when a loader is made, so a bad value is reported where it matters.</summary>
    public static long BudgetBytes
    {
        get => budgetSet ?? ReadBudget();
        set => budgetSet = value;
    }

    /// <summary>The estimated decoded size of the folder that made this cache.</summary>
    public long EstimatedBytes { get; }
    public long UsedBytes => Interlocked.Read(ref usedBytes);

    DecodedImageCache(int count, long estimatedBytes, long budgetBytes)
    {
        slots = new Rgb8Image?[count];
        EstimatedBytes = estimatedBytes;
        this.budgetBytes = budgetBytes;
    }

    /// <summary>A cache for <paramref name="data"/>, or null when the budget is 0 or the folder's estimated decoded size
    /// exceeds it.</summary>
    public static DecodedImageCache? For(ImageFolder data, long budgetBytes)
    {
        if (budgetBytes <= 0) return null;
        long estimate = EstimateBytes(data);
        return estimate > 0 && estimate <= budgetBytes ? new DecodedImageCache(data.Count, estimate, budgetBytes) : null;
    }

    /// <summary>Mean decoded size of up to 16 evenly spaced files (headers only) × the number of images; 0 when no
    /// sampled header could be read.</summary>
    static long EstimateBytes(ImageFolder data)
    {
        int probes = Math.Min(16, data.Count);
        long sum = 0;
        int read = 0;
        for (int k = 0; k < probes; k++)
        {
            var path = data.Samples[(int)((long)k * data.Count / probes)].Path;
            try
            {
                var info = Image.Identify(path);
                if (info is null) continue;
                sum += (long)info.Width * info.Height * 3;
                read++;
            }
            catch (Exception e) when (e is IOException or UnknownImageFormatException or InvalidImageContentException
                                           or NotSupportedException or ArgumentException or UnauthorizedAccessException)
            {
                // An unreadable file says nothing about the others' sizes; the loader reports it when it gets there.
            }
        }
        return read == 0 ? 0 : sum / read * data.Count;
    }

    /// <summary>The image at <paramref name="index"/>: from memory, or decoded from <paramref name="path"/>
    /// (<see cref="ImageDecoding.Load"/>) and kept while the budget allows (the estimate may be short; then the images
    /// past the budget are decoded every time).</summary>
    public Image<Rgb24> Load(int index, string path)
    {
        var kept = Volatile.Read(ref slots[index]);
        if (kept is not null) return Image.LoadPixelData<Rgb24>(ImageDecoding.Serial, kept.Data, kept.Width, kept.Height);
        var image = ImageDecoding.Load(path);
        long size = (long)image.Width * image.Height * 3;
        if (Interlocked.Add(ref usedBytes, size) <= budgetBytes) Volatile.Write(ref slots[index], ImageDecoding.ToRgb8(image));
        else Interlocked.Add(ref usedBytes, -size);
        return image;
    }

    static long ReadBudget()
    {
        var text = Environment.GetEnvironmentVariable("CONVMAE_DECODED_CACHE_MB");
        if (string.IsNullOrWhiteSpace(text)) return 512L << 20;
        return long.TryParse(text, out var mb) && mb >= 0 ? mb << 20
            : throw new ArgumentException($"CONVMAE_DECODED_CACHE_MB: expected a whole number of megabytes (0: off), got '{text}'");
    }
}
