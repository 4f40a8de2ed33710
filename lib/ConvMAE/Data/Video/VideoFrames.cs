using System.Globalization;
using FFMpegCore;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace ConvMAE.Data.Video;

/// <summary>
/// Pre-extracted frames, for speed (decoding a JPEG costs less than seeking in a video).
/// <para>Folder convention: the frames of <c>dir/clip.mp4</c> live in <c>dir/clip/</c> (the video's path without its
/// extension), named <c>img_00001.jpg</c>, <c>img_00002.jpg</c>, ... (VideoMAE's name_pattern 'img_%05d.jpg',
/// numbered from 1, so frame index i is file i + 1), or the same names in .png. A clip with such a folder is read from
/// it (through the kit's image decoder) and the video itself is not needed.</para>
/// </summary>
public static class VideoFrames
{
    /// <summary>The frame folder of a video: its path without the extension.</summary>
    public static string FolderFor(string videoPath) => Path.Combine(Path.GetDirectoryName(videoPath) ?? "", Path.GetFileNameWithoutExtension(videoPath));

    /// <summary>File name of frame index <paramref name="index"/> (0-based).</summary>
    public static string FrameName(int index, string extension = ".jpg") => $"img_{(index + 1).ToString("D5", CultureInfo.InvariantCulture)}{extension}";

    /// <summary>The frames folder of <paramref name="videoPath"/> and its image extension, when it exists and holds frame 1.</summary>
    public static (string Folder, string Extension)? Find(string videoPath)
    {
        var folder = FolderFor(videoPath);
        if (!Directory.Exists(folder)) return null;
        foreach (var ext in new[] { ".jpg", ".png" })
            if (File.Exists(Path.Combine(folder, FrameName(0, ext)))) return (folder, ext);
        return null;
    }

    /// <summary>
    /// Writes every frame of <paramref name="video"/> to <paramref name="folder"/> (default: <see cref="FolderFor"/>)
    /// as <c>img_00001.jpg</c>... (or .png), one image per decoded frame (-fps_mode passthrough: no frame dropped or
    /// duplicated, so indices match <see cref="VideoDecoder"/>'s); <paramref name="shortSide"/> &gt; 0 rescales.
    /// Frames go to a scratch folder renamed into place at the end, so a failed extraction leaves nothing half-written.
    /// Returns the number of frames written.
    /// </summary>
    public static int Extract(string video, string? folder = null, string format = "jpg", int shortSide = 0, int jpegQuality = 2)
    {
        var info = VideoDecoder.Probe(video);
        folder ??= FolderFor(video);
        if (format is not ("jpg" or "png")) throw new ArgumentException($"frame format must be jpg or png, got '{format}'");
        if (Directory.Exists(folder)) throw new IOException($"{folder} already exists (delete it to extract {video} again)");
        var scratch = folder.TrimEnd('/', '\\') + $".partial-{Guid.NewGuid():N}";
        Directory.CreateDirectory(scratch);
        try
        {
            var (w, h) = VideoDecoder.ShortSideSize(info.Width, info.Height, shortSide);
            FFMpegArguments.FromFileInput(video)
                .OutputToFile(Path.Combine(scratch, $"img_%05d.{format}"), overwrite: true, o =>
                {
                    o.WithCustomArgument("-an -fps_mode passthrough -start_number 1" + (format == "jpg" ? $" -q:v {jpegQuality}" : ""));
                    if ((w, h) != (info.Width, info.Height)) o.WithCustomArgument($"-vf scale={w}:{h}:flags=bilinear");
                })
                .ProcessSynchronously(throwOnError: true, VideoDecoder.Options);
            int written = Directory.GetFiles(scratch, $"img_*.{format}").Length;
            if (written == 0) throw new BadVideoException(video, "ffmpeg wrote no frames");
            Directory.Move(scratch, folder);
            return written;
        }
        catch (Exception e) when (e is not BadVideoException)
        {
            throw new BadVideoException(video, $"frame extraction failed ({e.Message.Split('\n')[0]})", e);
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>Number of frames in a frames folder (img_NNNNN files of its extension).</summary>
    public static int CountFrames(string folder, string extension) => Directory.GetFiles(folder, "img_*" + extension).Length;

    /// <summary>Reads frames <paramref name="indices"/> from a frames folder through <see cref="ImageDecoding.Load"/>
    /// (a missing or corrupt frame throws <see cref="BadImageException"/> naming the file); <paramref name="shortSide"/>
    /// &gt; 0 rescales bilinearly as the video path does.</summary>
    public static Rgb8Image[] Read(string folder, string extension, IReadOnlyList<int> indices, int shortSide = 0)
    {
        var cache = new Dictionary<int, Rgb8Image>();
        var result = new Rgb8Image[indices.Count];
        for (int k = 0; k < indices.Count; k++)
        {
            int i = indices[k];
            if (!cache.TryGetValue(i, out var img))
            {
                using var decoded = ImageDecoding.Load(Path.Combine(folder, FrameName(i, extension)));
                var (w, h) = VideoDecoder.ShortSideSize(decoded.Width, decoded.Height, shortSide);
                if ((w, h) != (decoded.Width, decoded.Height)) decoded.Mutate(c => c.Resize(w, h, KnownResamplers.Triangle));
                cache[i] = img = ImageDecoding.ToRgb8(decoded);
            }
            result[k] = img;
        }
        return result;
    }
}

/// <summary>A clip's frames from wherever they are: its frames folder when present (<see cref="VideoFrames"/>),
/// else the video through FFmpeg.</summary>
public static class ClipReader
{
    public static int FrameCount(string videoPath) =>
        VideoFrames.Find(videoPath) is var (folder, ext) ? VideoFrames.CountFrames(folder, ext) : VideoDecoder.Probe(videoPath).FrameCount;

    public static Rgb8Image[] Read(string videoPath, IReadOnlyList<int> indices, int shortSide = 0) =>
        VideoFrames.Find(videoPath) is var (folder, ext)
            ? VideoFrames.Read(folder, ext, indices, shortSide)
            : VideoDecoder.Decode(videoPath, indices, shortSide);

    /// <summary>Whether the clip can be found at all (a video file or a frames folder).</summary>
    public static bool Exists(string videoPath) => File.Exists(videoPath) || VideoFrames.Find(videoPath) is not null;
}
