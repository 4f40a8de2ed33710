using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ConvMAE.Data;

/// <summary>An image file that cannot be used; the message names the file and the problem.</summary>
public sealed class BadImageException(string path, string problem, Exception? inner = null)
    : IOException($"{path}: {problem}", inner)
{
    public string PathName { get; } = path;
    public string Problem { get; } = problem;
}

/// <summary>Decodes image files (JPEG, PNG, BMP, GIF, TGA, WebP...) to RGB with ImageSharp 2.1.</summary>
public static class ImageDecoding
{
    public static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".jpeg", ".jpg", ".png", ".bmp", ".gif", ".tga", ".webp", ".ppm", ".pgm", ".tif", ".tiff" };

    public static bool HasImageExtension(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Loads as 8-bit RGB (greyscale, palette, CMYK and alpha are converted). Throws <see cref="BadImageException"/>
    /// naming the file for a missing, empty, unrecognised, corrupt or truncated file.</summary>
    public static Image<Rgb24> Load(string path)
    {
        FileInfo info = new(path);
        if (!info.Exists) throw new BadImageException(path, "file not found");
        if (info.Length == 0) throw new BadImageException(path, "empty file (0 bytes)");
        try
        {
            return Image.Load<Rgb24>(path);
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

    public static Rgb8Image ToRgb8(Image<Rgb24> img)
    {
        var data = new byte[img.Width * img.Height * 3];
        img.CopyPixelDataTo(data);
        return new Rgb8Image(img.Width, img.Height, data);
    }
}
