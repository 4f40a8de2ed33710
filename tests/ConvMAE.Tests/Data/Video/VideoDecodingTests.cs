using ConvMAE.Data;
using ConvMAE.Data.Video;
using Xunit;

namespace ConvMAE.Tests.Data.Video;

/// <summary>FFmpeg probing and seeking on clips whose frames say their own index (grey 8·i), in H.264/mp4 and VP9/webm;
/// frame folders; and every way a video file can be bad.</summary>
public class VideoDecodingTests
{
    [Theory]
    [InlineData("clip.mp4", "h264")]
    [InlineData("clip.webm", "vp9")]
    public void Probe_counts_frames_and_seeking_returns_the_asked_frames(string name, string codec)
    {
        using var dir = TestPaths.Temp();
        var path = TestVideos.Write(dir.File(name), frames: 32);
        var info = VideoDecoder.Probe(path);
        Assert.Equal(32, info.FrameCount);
        Assert.Equal(25, info.Fps, 3);
        Assert.Equal(1.28, info.DurationSeconds, 2);
        Assert.Equal((32, 24), (info.Width, info.Height));
        Assert.Equal(codec, info.Codec);

        // Middle frames off a keyframe (8 is one, 13 is not), repeats, unsorted, and the very last frame.
        int[] wanted = [13, 17, 13, 30, 31];
        var frames = VideoDecoder.Decode(path, wanted);
        Assert.Equal(wanted.Length, frames.Length);
        for (int k = 0; k < wanted.Length; k++)
            Assert.InRange(TestVideos.Mean(frames[k]), TestVideos.Grey(wanted[k]) - 4, TestVideos.Grey(wanted[k]) + 4);
        var first = VideoDecoder.Decode(path, [0]);
        Assert.InRange(TestVideos.Mean(first[0]), 0, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => VideoDecoder.Decode(path, [32]));
    }

    [Fact]
    public void Decoding_scales_the_short_side_as_VideoMAE_resizes()
    {
        using var dir = TestPaths.Temp();
        var path = TestVideos.Write(dir.File("wide.mp4"), frames: 4, width: 48, height: 32);
        var f = VideoDecoder.Decode(path, [2], shortSide: 16)[0];
        Assert.Equal((24, 16), (f.Width, f.Height));                   // int(16·48/32) = 24
        Assert.Equal((16, 37), VideoDecoder.ShortSideSize(30, 70, 16)); // int(16·70/30) = int(37.33)
        Assert.Equal((30, 70), VideoDecoder.ShortSideSize(30, 70, 30)); // short side already right
        Assert.InRange(TestVideos.Mean(f), 16 - 4, 16 + 4);
    }

    [Fact]
    public void Extracted_frames_are_read_instead_of_the_video_and_match_it()
    {
        using var dir = TestPaths.Temp();
        var path = TestVideos.Write(dir.File("a/clip.mp4"), frames: 12);
        Assert.Null(VideoFrames.Find(path));
        Assert.Equal(12, VideoFrames.Extract(path, format: "png"));
        Assert.True(File.Exists(dir.File("a/clip/img_00001.png")));
        Assert.True(File.Exists(dir.File("a/clip/img_00012.png")));
        Assert.Empty(Directory.GetDirectories(dir.File("a"), "*.partial-*"));
        Assert.Equal(12, ClipReader.FrameCount(path));
        File.Delete(path);                                            // the folder stands in for the video
        Assert.True(ClipReader.Exists(path));
        var frames = ClipReader.Read(path, [3, 11]);
        Assert.InRange(TestVideos.Mean(frames[0]), 24 - 4, 24 + 4);
        Assert.InRange(TestVideos.Mean(frames[1]), 88 - 4, 88 + 4);
        // A corrupt frame file is a bad sample naming that file.
        File.WriteAllBytes(dir.File("a/clip/img_00004.png"), [1, 2, 3]);
        var e = Assert.ThrowsAny<BadSampleException>(() => ClipReader.Read(path, [3]));
        Assert.Contains("img_00004.png", e.Message);
    }

    [Fact]
    public void Missing_empty_corrupt_and_truncated_videos_are_bad_samples_naming_the_file()
    {
        using var dir = TestPaths.Temp();
        string Bad(string file) => Assert.Throws<BadVideoException>(() => VideoDecoder.Decode(file, [0])).Message;

        Assert.Contains("missing.mp4: video file not found", Bad(dir.File("missing.mp4")));
        File.WriteAllBytes(dir.File("empty.mp4"), []);
        Assert.Contains("empty.mp4: empty", Bad(dir.File("empty.mp4")));
        File.WriteAllBytes(dir.File("noise.mp4"), Enumerable.Range(0, 5000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        Assert.Contains("noise.mp4", Bad(dir.File("noise.mp4")));

        // mp4 cut short: its index (moov, written last) is gone.
        var mp4 = TestVideos.Write(dir.File("cut.mp4"), frames: 32);
        var bytes = File.ReadAllBytes(mp4);
        File.WriteAllBytes(mp4, bytes[..(bytes.Length / 2)]);
        Assert.Contains("cut.mp4", Bad(mp4));

        // mp4 with its index first (faststart) cut short: the index still promises 32 frames.
        var fast = TestVideos.Write(dir.File("cutfast.mp4"), frames: 32, pixel: (i, x, y) => (byte)((x * 37 + y * 11 + i * 53) % 256),
                                    extraArgs: "-movflags +faststart");
        bytes = File.ReadAllBytes(fast);
        File.WriteAllBytes(fast, bytes[..(bytes.Length / 2)]);
        Assert.Contains("cutfast.mp4: truncated video: the header says 32 frames", Bad(fast));

        // webm cut short: the header still says 1.28 s, the frames stop early.
        var webm = TestVideos.Write(dir.File("cut.webm"), frames: 32);
        bytes = File.ReadAllBytes(webm);
        File.WriteAllBytes(webm, bytes[..(bytes.Length * 6 / 10)]);
        var msg = Bad(webm);
        Assert.Contains("cut.webm", msg);
        Assert.Contains("truncated", msg);
    }
}
