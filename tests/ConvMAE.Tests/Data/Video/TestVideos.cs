using System.Diagnostics;
using ConvMAE.Data;

namespace ConvMAE.Tests.Data.Video;

/// <summary>Tiny test clips written by /usr/bin/ffmpeg from raw RGB frames whose content encodes the frame index:
/// frame i is a flat grey of level 8·i (so a decoded frame says which frame it is, within codec tolerance).</summary>
static class TestVideos
{
    public static byte Grey(int frame) => (byte)Math.Min(255, 8 * frame);

    /// <summary>Writes <paramref name="frames"/> frames of <paramref name="width"/>×<paramref name="height"/> at 25 fps:
    /// .mp4 as H.264, .webm as VP9 (keyframe every 8 frames, so seeking has to decode from a keyframe).</summary>
    public static string Write(string path, int frames = 32, int width = 32, int height = 24, Func<int, int, int, byte>? pixel = null, string extraArgs = "")
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string codec = path.EndsWith(".webm") ? "-c:v libvpx-vp9 -b:v 200k -deadline realtime -cpu-used 8" : "-c:v libx264 -preset ultrafast";
        var psi = new ProcessStartInfo("/usr/bin/ffmpeg",
            $"-v error -y -f rawvideo -pix_fmt rgb24 -s {width}x{height} -r 25 -i - {codec} -g 8 -pix_fmt yuv420p {extraArgs} \"{path}\"")
        { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        using (var stdin = p.StandardInput.BaseStream)
            for (int i = 0; i < frames; i++)
            {
                var buf = new byte[width * height * 3];
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        byte v = pixel?.Invoke(i, x, y) ?? Grey(i);
                        buf[(y * width + x) * 3] = buf[(y * width + x) * 3 + 1] = buf[(y * width + x) * 3 + 2] = v;
                    }
                stdin.Write(buf);
            }
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"ffmpeg failed writing {path}: {err.Result}");
        return path;
    }

    /// <summary>Mean of the first channel of a frame.</summary>
    public static double Mean(Rgb8Image f)
    {
        long s = 0;
        for (int i = 0; i < f.Data.Length; i += 3) s += f.Data[i];
        return s / (double)(f.Width * f.Height);
    }

    /// <summary>A Random whose draws are all at the low end (Next → min, NextDouble → 0) or the high end (Next →
    /// max − 1, NextDouble → just under 1), so a sampler's output can be worked out by hand.</summary>
    public sealed class Extreme(bool high) : Random
    {
        public override int Next(int maxValue) => high ? maxValue - 1 : 0;
        public override int Next(int minValue, int maxValue) => high ? maxValue - 1 : minValue;
        public override double NextDouble() => high ? 0.999999 : 0.0;
        public override long NextInt64() => 7;
    }
}
