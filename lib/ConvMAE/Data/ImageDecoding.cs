using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ConvMAE.Data;

/// <summary>A sample that cannot be used (a file, an annotation, a clip); the message names it and the problem.
/// Loaders skip such samples with a counted warning unless run strictly.</summary>
public class BadSampleException(string name, string problem, Exception? inner = null)
    : IOException($"{name}: {problem}", inner)
{
    public string PathName { get; } = name;
    public string Problem { get; } = problem;
}

/// <summary>An image file that cannot be used; the message names the file and the problem.</summary>
public sealed class BadImageException(string path, string problem, Exception? inner = null) : BadSampleException(path, problem, inner);

/// <summary>Decodes image files (JPEG, PNG, BMP, GIF, TGA, WebP...) to RGB with ImageSharp 2.1.</summary>
public static class ImageDecoding
{
    public static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".jpeg", ".jpg", ".png", ".bmp", ".gif", ".tga", ".webp", ".ppm", ".pgm", ".tif", ".tiff" };

    public static bool HasImageExtension(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>
    /// ImageSharp with its own parallelism off. The loader already runs one image per worker thread; ImageSharp's
    /// default (a Parallel.For over rows in every resize, with as many partitions as cores) then oversubscribes the
    /// cores and costs more in scheduling than a 96-px image takes to process. Images decoded with this
    /// configuration carry it into their Clone/Mutate calls.
    /// </summary>
    public static readonly Configuration Serial = CreateSerial();

    static Configuration CreateSerial()
    {
        var c = Configuration.Default.Clone();
        c.MaxDegreeOfParallelism = 1;
        return c;
    }

    /// <summary>Loads as 8-bit RGB (greyscale, palette, CMYK and alpha are converted). Throws <see cref="BadImageException"/>
    /// naming the file for a missing, empty, unrecognised, corrupt or truncated file.</summary>
    public static Image<Rgb24> Load(string path)
    {
        FileInfo info = new(path);
        if (!info.Exists) throw new BadImageException(path, "file not found");
        if (info.Length == 0) throw new BadImageException(path, "empty file (0 bytes)");
        var bytes = File.ReadAllBytes(path);
        if (TruncationProblem(bytes) is { } problem) throw new BadImageException(path, problem);
        try
        {
            return Image.Load<Rgb24>(Serial, bytes);
        }
        catch (UnknownImageFormatException e)
        {
            throw new BadImageException(path, "not an image file (no known image format)", e);
        }
        catch (InvalidImageContentException e)
        {
            throw new BadImageException(path, $"corrupt or truncated image ({e.Message})", e);
        }
        catch (Exception e) when (e is NotSupportedException or ImageFormatException or EndOfStreamException or IndexOutOfRangeException
                                       or ArgumentException or InvalidOperationException)
        {
            throw new BadImageException(path, $"corrupt or truncated image ({e.GetType().Name}: {e.Message})", e);
        }
    }

    /// <summary>
    /// ImageSharp decodes a JPEG cut inside its scan data without complaint (the missing rows come out grey), so a
    /// half-copied file would train silently. Like PIL ("image file is truncated"), require the end markers: a JPEG
    /// must end with EOI (FF D9; a little trailing padding is tolerated), a PNG with its IEND chunk.
    /// </summary>
    static string? TruncationProblem(byte[] b)
    {
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        {
            for (int i = b.Length - 2; i >= Math.Max(2, b.Length - 64); i--)
                if (b[i] == 0xFF && b[i + 1] == 0xD9) return null;
            return "truncated JPEG (no end-of-image marker)";
        }
        if (b.Length >= 8 && b[0] == 0x89 && b[1] == (byte)'P' && b[2] == (byte)'N' && b[3] == (byte)'G')
        {
            var tail = System.Text.Encoding.ASCII.GetString(b, Math.Max(0, b.Length - 12), Math.Min(12, b.Length));
            return tail.Contains("IEND") ? null : "truncated or corrupt PNG (no IEND chunk)";
        }
        return null;
    }

    public static Rgb8Image ToRgb8(Image<Rgb24> img)
    {
        var data = new byte[img.Width * img.Height * 3];
        img.CopyPixelDataTo(data);
        return new Rgb8Image(img.Width, img.Height, data);
    }
}
