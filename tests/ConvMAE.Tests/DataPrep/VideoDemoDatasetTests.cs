using System.Diagnostics;
using System.Text.Json;
using ConvMAE.Data.Video;
using ConvMAE.DataPrep;
using Xunit;

namespace ConvMAE.Tests.DataPrep;

public class VideoDemoDatasetTests
{
    static readonly VideoDemoOptions Small = new(Seed: 3, TrainPerClass: 2, ValPerClass: 1, Frames: 16, Size: 80);

    [Fact]
    public void VideoDemo_writes_the_Kinetics_and_SSv2_layouts_and_is_idempotent()
    {
        using var dir = TestPaths.Temp();
        var root = dir.File("video-demo");
        Assert.True(VideoDemoDataset.Generate(root, Small));
        var k = Path.Combine(root, "kinetics");
        var classes = VideoDemoDataset.Classes;

        // Kinetics CSVs: the official header, one row per clip, ids of 11 URL-safe characters.
        foreach (var (split, per) in new[] { ("train", 2), ("val", 1) })
        {
            var lines = File.ReadAllLines(Path.Combine(k, $"{split}.csv"));
            Assert.Equal("label,youtube_id,time_start,time_end,split", lines[0]);
            var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
            Assert.Equal(classes.Length * per, rows.Count);
            Assert.All(rows, r =>
            {
                Assert.Equal(5, r.Length);
                Assert.Matches("^[A-Za-z0-9_-]{11}$", r[1]);
                Assert.Equal(("0", "1", split), (r[2], r[3], r[4]));
                Assert.True(File.Exists(Path.Combine(k, split, r[0], $"{r[1]}_000000_000001.mp4")), string.Join(",", r));
            });
            foreach (var (label, _) in classes) Assert.Equal(per, rows.Count(r => r[0] == label));
            Assert.Equal(classes.Length * per, Directory.GetFiles(Path.Combine(k, split), "*.mp4", SearchOption.AllDirectories).Length);

            // VideoMAE lists: "path label" with no other space (VideoMAE splits on every one), the path relative to
            // lists/ through lists/videos/<split>/<label_with_underscores>, a link to the official <split>/<label> folder.
            var list = File.ReadAllLines(Path.Combine(k, "lists", $"{split}.csv"));
            Assert.Equal(rows.Count, list.Length);
            foreach (var line in list)
            {
                var f = line.Split(' ');
                Assert.Equal(2, f.Length);
                var path = Path.GetFullPath(Path.Combine(k, "lists", f[0]));
                Assert.True(File.Exists(path), line);
                var link = new DirectoryInfo(Path.GetDirectoryName(path)!);
                Assert.NotNull(link.LinkTarget);
                var label = Path.GetFileName(link.ResolveLinkTarget(returnFinalTarget: true)!.FullName);
                Assert.Equal(Path.Combine(k, split, label), link.ResolveLinkTarget(returnFinalTarget: true)!.FullName);
                Assert.Equal(VideoDemoDataset.ListFolderName(label), link.Name);
                Assert.Equal(Array.FindIndex(classes, c => c.Label == label), int.Parse(f[1]));
            }
            // The kit's list reader takes them as they are, frames folders included.
            var index = VideoListFile.Open(Path.Combine(k, "lists", $"{split}.csv"), strict: true, classes.Select(c => c.Label).ToList());
            Assert.Equal(rows.Count, index.Count);
            Assert.All(index.Entries, e => Assert.NotNull(VideoFrames.Find(e.Path)));

            // Every Kinetics clip has its frames folder beside it, one JPEG per frame.
            foreach (var video in Directory.GetFiles(Path.Combine(k, split), "*.mp4", SearchOption.AllDirectories))
            {
                Assert.Equal((VideoFrames.FolderFor(video), ".jpg"), VideoFrames.Find(video));
                Assert.Equal(Small.Frames, Directory.GetFiles(VideoFrames.FolderFor(video)).Length);
            }
        }
        Assert.Equal(File.ReadAllLines(Path.Combine(k, "lists", "val.csv")), File.ReadAllLines(Path.Combine(k, "lists", "test.csv")));

        // SSv2: labels keyed by template with [something] → something; entries whose label fills the template.
        var s = Path.Combine(root, "ssv2");
        var labels = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(s, "something-something-v2-labels.json")))!;
        Assert.Equal(classes.Select(c => c.Template.Replace("[something]", "something")), labels.Keys);
        Assert.Equal(Enumerable.Range(0, classes.Length).Select(i => i.ToString()), labels.Values);
        var ids = new List<int>();
        foreach (var (file, per) in new[] { ("train", 2), ("validation", 1) })
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(s, $"something-something-v2-{file}.json")));
            var entries = doc.RootElement.EnumerateArray().ToList();
            Assert.Equal(classes.Length * per, entries.Count);
            foreach (var e in entries)
            {
                var template = e.GetProperty("template").GetString()!;
                var placeholder = e.GetProperty("placeholders")[0].GetString()!;
                Assert.Matches("^an? [a-z]+ [A-Za-z-]+$", placeholder);
                var label = template.Replace("[something]", placeholder);
                Assert.Equal(char.ToLowerInvariant(label[0]) + label[1..], e.GetProperty("label").GetString());
                Assert.Contains(template.Replace("[something]", "something"), labels.Keys);
                var id = e.GetProperty("id").GetString()!;
                ids.Add(int.Parse(id));
                Assert.True(File.Exists(Path.Combine(s, "20bn-something-something-v2", id + ".webm")), id);
            }
            foreach (var (_, template) in classes)
                Assert.Equal(per, entries.Count(e => e.GetProperty("template").GetString() == template));
        }
        Assert.Equal(Enumerable.Range(1, ids.Count), ids.Order());          // ids 1..N, shuffled
        Assert.NotEqual(Enumerable.Range(1, ids.Count), ids);
        // SSv2 stays video-only (its clips go through the decoder).
        Assert.Empty(Directory.GetDirectories(Path.Combine(s, "20bn-something-something-v2")));

        // Encoded clips: ffprobe sees the codec, the size and every frame.
        var mp4 = Directory.GetFiles(k, "*.mp4", SearchOption.AllDirectories).Order().Last();
        var webm = Directory.GetFiles(Path.Combine(s, "20bn-something-something-v2")).Order().First();
        Assert.Equal("h264,80,80,yuv420p,16", Probe(mp4));
        Assert.Equal("vp9,80,80,yuv420p,16", Probe(webm));

        // Second run: current, nothing written.
        var before = Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        Assert.False(VideoDemoDataset.Generate(root, Small));
        Assert.Equal(before, Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc));
        // Other options regenerate; no temporary folder is left behind.
        Assert.True(VideoDemoDataset.Generate(root, Small with { ValPerClass = 2 }));
        Assert.Equal(classes.Length * 2, File.ReadAllLines(Path.Combine(k, "val.csv")).Length - 1);
        Assert.Empty(Directory.GetDirectories(dir.Path, "*.partial-*"));
        Assert.False(Directory.Exists(Path.Combine(root, ".encode")));
    }

    /// <summary>The frames folders are decoded from the encoded mp4s, batch by batch, exactly as the kit's
    /// <c>VideoFrames.Extract</c> (<c>convmae video extract-frames</c>) decodes one clip: the same files, byte for byte,
    /// one per frame of the video (32 at the default --frames). Checked on the first clip of each of two batches.</summary>
    [Fact]
    public void VideoDemo_frames_folders_equal_what_VideoFrames_Extract_writes()
    {
        using var dir = TestPaths.Temp();
        var root = dir.File("video-demo");
        var o = new VideoDemoOptions(Seed: 5, TrainPerClass: 2, ValPerClass: 1);    // 24 clips: two batches of 20 and 4
        Assert.Equal(32, o.Frames);
        Assert.True(VideoDemoDataset.Generate(root, o));
        var plan = VideoDemoDataset.Plan(o);
        foreach (var clip in new[] { plan[0], plan[20], plan[^1] })
        {
            var mp4 = Path.Combine(root, clip.KineticsPath);
            var generated = VideoFrames.FolderFor(mp4);
            var extracted = dir.File($"extracted-{clip.YoutubeId}");
            Assert.Equal(32, VideoFrames.Extract(mp4, extracted));
            Assert.Equal(VideoDecoder.Probe(mp4).FrameCount, VideoFrames.CountFrames(generated, ".jpg"));
            var names = Directory.GetFiles(generated).Select(Path.GetFileName).Order().ToList();
            Assert.Equal(Enumerable.Range(0, 32).Select(i => VideoFrames.FrameName(i)), names);
            Assert.Equal(names, Directory.GetFiles(extracted).Select(Path.GetFileName).Order());
            foreach (var name in names)
                Assert.True(File.ReadAllBytes(Path.Combine(generated, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(extracted, name!))),
                    $"{clip.KineticsPath}: {name} differs from VideoFrames.Extract's");
        }
    }

    [Fact]
    public void VideoDemo_plan_and_frames_are_deterministic_from_the_seed()
    {
        var a = VideoDemoDataset.Plan(Small);
        Assert.Equal(a, VideoDemoDataset.Plan(Small));
        Assert.Equal(a.Count, a.Select(c => c.YoutubeId).Distinct().Count());
        Assert.NotEqual(a.Select(c => c.YoutubeId), VideoDemoDataset.Plan(Small with { Seed = 4 }).Select(c => c.YoutubeId));
        foreach (var clip in a.Take(3))
        {
            var x = VideoDemoDataset.Render(clip.Class, 16, 80, new Random(clip.RenderSeed));
            var y = VideoDemoDataset.Render(clip.Class, 16, 80, new Random(clip.RenderSeed));
            Assert.Equal(16, x.Frames.Length);
            for (int t = 0; t < 16; t++) Assert.Equal(x.Frames[t], y.Frames[t]);
            Assert.Equal(x.Placeholder, y.Placeholder);
        }
        var other = VideoDemoDataset.Render(a[0].Class, 16, 80, new Random(a[0].RenderSeed + 1));
        Assert.NotEqual(VideoDemoDataset.Render(a[0].Class, 16, 80, new Random(a[0].RenderSeed)).Frames[0], other.Frames[0]);
    }

    /// <summary>The motion found in the pixels (the centroid of what differs from the clip's background) is the class's:
    /// checked on many clips of every class, each over its first 16 frames.</summary>
    [Theory]
    [InlineData(VideoAppearance.Random)]
    [InlineData(VideoAppearance.Fixed)]
    public void VideoDemo_motion_seen_in_the_pixels_is_the_class(VideoAppearance appearance)
    {
        const int T = 16, S = 80;
        for (int cls = 0; cls < VideoDemoDataset.Classes.Length; cls++)
            for (int seed = 0; seed < 12; seed++)
            {
                var clip = VideoDemoDataset.Render(cls, 32, S, new Random(1000 * cls + seed), appearance);
                var c = Enumerable.Range(0, T).Select(t => Centroid(clip.Frames[t], clip.Background, S, $"class {cls} seed {seed} frame {t} {clip.Placeholder} at {clip.Centres[t]}")).ToArray();
                double dx = c[T - 1].X - c[0].X, dy = c[T - 1].Y - c[0].Y;
                double maxShift = c.Max(p => Math.Sqrt((p.X - c[0].X) * (p.X - c[0].X) + (p.Y - c[0].Y) * (p.Y - c[0].Y)));
                double path = Enumerable.Range(1, T - 1).Sum(t => Math.Sqrt((c[t].X - c[t - 1].X) * (c[t].X - c[t - 1].X) + (c[t].Y - c[t - 1].Y) * (c[t].Y - c[t - 1].Y)));
                string what = $"class {cls} seed {seed}: dx {dx:F1} dy {dy:F1} max shift {maxShift:F1} path {path:F1}";
                switch (cls)
                {
                    case 0: Assert.True(dx > 12 && Math.Abs(dy) < 5, what); break;
                    case 1: Assert.True(dx < -12 && Math.Abs(dy) < 5, what); break;
                    case 2: Assert.True(dy > 12 && Math.Abs(dx) < 5, what); break;   // y points down: top to bottom
                    case 3: Assert.True(dy < -12 && Math.Abs(dx) < 5, what); break;
                    case 4: case 5:
                        Assert.True(maxShift < 2, what);
                        // The object's pixels change from frame to frame although it stays in place.
                        Assert.True(Changed(clip.Frames[0], clip.Frames[1]) > 4, what);
                        break;
                    case 6: Assert.True(path / (T - 1) > 2.3, what); break;          // fast: 3-4 px/frame, less where it turns at a wall
                    case 7:
                        double net = Math.Sqrt(dx * dx + dy * dy);
                        Assert.True(net > 4 && net < 11 && path / (T - 1) < 1, what);  // 0.4-0.6 px/frame
                        break;
                }
            }
        // Rotation direction: with y down, the clockwise class turns the object's angle up (the renderer's path says so,
        // and the pixels follow it because the same angle drives them).
        Assert.True(VideoDemoDataset.Render(4, 16, S, new Random(1)).AnglesDegrees is var cw && cw[15] - cw[0] > 100);
        Assert.True(VideoDemoDataset.Render(5, 16, S, new Random(1)).AnglesDegrees is var acw && acw[15] - acw[0] < -100);
    }

    /// <summary>Appearance does not depend on the class: the same seed gives the same shape and colour in every class.</summary>
    [Fact]
    public void VideoDemo_appearance_is_drawn_the_same_way_for_every_class()
    {
        for (int seed = 0; seed < 20; seed++)
        {
            var looks = Enumerable.Range(0, VideoDemoDataset.Classes.Length)
                .Select(cls => VideoDemoDataset.Render(cls, 8, 80, new Random(seed))).ToList();
            Assert.Single(looks.Select(l => l.Placeholder).Distinct());
            Assert.Single(looks.Select(l => Convert.ToBase64String(l.Background)).Distinct());
        }
    }

    /// <summary>--appearance fixed: one red arrow 20 px across on flat grey in every clip, moved by the same draws as
    /// the random-appearance clip of the same seed; its starting orientation is still drawn, so one frame of a
    /// translating clip looks like one frame of a rotating one.</summary>
    [Fact]
    public void VideoDemo_fixed_appearance_is_one_red_arrow_on_grey_with_the_random_variants_motion()
    {
        var starts = new HashSet<int>();
        for (int cls = 0; cls < VideoDemoDataset.Classes.Length; cls++)
            for (int seed = 0; seed < 4; seed++)
            {
                var fixedClip = VideoDemoDataset.Render(cls, 16, 80, new Random(10 * cls + seed), VideoAppearance.Fixed);
                var randomClip = VideoDemoDataset.Render(cls, 16, 80, new Random(10 * cls + seed));
                Assert.Equal("a red arrow", fixedClip.Placeholder);
                Assert.All(fixedClip.Background, v => Assert.Equal(128, v));
                // The same draws: the same turns; the same steps for the straight motions (where they start depends on
                // the object's size, which bounds the path).
                Assert.Equal(randomClip.AnglesDegrees, fixedClip.AnglesDegrees);
                if (cls is < 4 or 7)
                    for (int t = 1; t < 16; t++)
                    {
                        Assert.Equal(randomClip.Centres[t].X - randomClip.Centres[t - 1].X, fixedClip.Centres[t].X - fixedClip.Centres[t - 1].X, 9);
                        Assert.Equal(randomClip.Centres[t].Y - randomClip.Centres[t - 1].Y, fixedClip.Centres[t].Y - fixedClip.Centres[t - 1].Y, 9);
                    }
                // Every pixel is grey, the arrow's pure red (no jitter), or a blend of the two at its edge.
                var pixels = fixedClip.Frames[0].Chunk(3).ToList();
                Assert.Contains(pixels, p => p is [220, 40, 40]);
                Assert.All(pixels, p =>
                {
                    double c = (p[0] - 128) / 92.0;                       // coverage from the red channel
                    Assert.InRange(p[1], 128 - 88 * c - 1, 128 - 88 * c + 1);
                    Assert.InRange(p[2], 128 - 88 * c - 1, 128 - 88 * c + 1);
                });
                // The object's area (pixels far from grey) is the same in every clip: one size (random sizes span 2.9× in
                // area). The largest over the frames, as a translating arrow may start partly outside the frame.
                int area = fixedClip.Frames.Max(f => f.Chunk(3).Count(p => Math.Abs(p[0] - 128) + Math.Abs(p[1] - 128) + Math.Abs(p[2] - 128) > 120));
                Assert.InRange(area, 95, 135);
                starts.Add((int)fixedClip.AnglesDegrees[0]);
            }
        Assert.True(starts.Count > 20, "the starting orientation is still drawn per clip");
        Assert.Throws<ArgumentException>(() => VideoDemoOptions.ParseAppearance("shape"));
    }

    [Fact]
    public void VideoDemo_manifest_names_the_appearance_and_another_appearance_rewrites_the_folder()
    {
        using var dir = TestPaths.Temp();
        var root = dir.File("video-demo");
        var tiny = new VideoDemoOptions(Seed: 2, TrainPerClass: 1, ValPerClass: 1, Frames: 8, Size: 32);
        Assert.True(VideoDemoDataset.Generate(root, tiny with { Appearance = VideoAppearance.Fixed }));
        Assert.Contains("\"appearance\": \"fixed\"", File.ReadAllText(Path.Combine(root, GeneratedFolder.ManifestName)));
        Assert.False(VideoDemoDataset.Generate(root, tiny with { Appearance = VideoAppearance.Fixed }));
        Assert.True(VideoDemoDataset.Generate(root, tiny));
    }

    static (double X, double Y) Centroid(byte[] frame, byte[] background, int size, string what)
    {
        double sx = 0, sy = 0, n = 0;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int i = (y * size + x) * 3;
                int d = Math.Abs(frame[i] - background[i]) + Math.Abs(frame[i + 1] - background[i + 1]) + Math.Abs(frame[i + 2] - background[i + 2]);
                if (d > 60) { sx += x + 0.5; sy += y + 0.5; n++; }
            }
        Assert.True(n > 20, $"{what}: object not found ({n} pixels)");
        return (sx / n, sy / n);
    }

    static int Changed(byte[] a, byte[] b) => Enumerable.Range(0, a.Length / 3)
        .Count(p => Math.Abs(a[3 * p] - b[3 * p]) + Math.Abs(a[3 * p + 1] - b[3 * p + 1]) + Math.Abs(a[3 * p + 2] - b[3 * p + 2]) > 60);

    static string Probe(string file)
    {
        var psi = new ProcessStartInfo("ffprobe") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-count_frames", "-select_streams", "v:0",
                                  "-show_entries", "stream=codec_name,width,height,pix_fmt,nb_read_frames", "-of", "csv=p=0", file })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        // ffprobe prints the fields in its own order (codec, width, height, pix_fmt, frames).
        return output.Trim();
    }
}
