using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConvMAE.DataPrep;

/// <summary>What the clips look like: <see cref="Random"/> (the issue's spec: shape, colour, size and background drawn per
/// clip) or <see cref="Fixed"/> (every clip the same red arrow, 20 px across, on flat grey; only the motion and the
/// starting orientation differ). Fixed appearance keeps one frame uninformative but takes away the appearance a small
/// patch-token model otherwise learns before the motion (README, video: the diagnosis).</summary>
public enum VideoAppearance { Random, Fixed }

public sealed record VideoDemoOptions(int Seed = 0, int TrainPerClass = 40, int ValPerClass = 10, int Frames = 32, int Size = 80, int Fps = 25,
                                      VideoAppearance Appearance = VideoAppearance.Random)
{
    /// <summary>2: Kinetics frame folders (img_00001.jpg...) beside every mp4; VideoMAE lists through space-free links.
    /// 3: the manifest names the appearance.</summary>
    public const int FormatVersion = 3;

    /// <summary>The appearance as the flag and the manifest spell it: random or fixed.</summary>
    public string AppearanceName => Appearance.ToString().ToLowerInvariant();

    public static VideoAppearance ParseAppearance(string value) => value switch
    {
        "random" => VideoAppearance.Random,
        "fixed" => VideoAppearance.Fixed,
        _ => throw new ArgumentException($"--appearance takes random or fixed, not '{value}'"),
    };
}

/// <summary>One clip of the plan: where it goes in both layouts and the seed of its frames.</summary>
public sealed record VideoDemoClip(string Split, int Class, int Index, string YoutubeId, int SsId, int RenderSeed)
{
    public const int TimeStart = 0, TimeEnd = 1;
    public string KineticsPath => Path.Combine("kinetics", Split, VideoDemoDataset.Classes[Class].Label, $"{YoutubeId}_{TimeStart:D6}_{TimeEnd:D6}.mp4");
    public string SsPath => Path.Combine("ssv2", "20bn-something-something-v2", $"{SsId}.webm");
}

/// <summary>Rendered frames (uint8 RGB, [frame][y, x, c]) with what the tests need to check the motion: the static
/// background the object moves over, its path and the SSv2 placeholder that names it.</summary>
public sealed record VideoDemoFrames(byte[][] Frames, byte[] Background, (double X, double Y)[] Centres, double[] AnglesDegrees, string Shape, string Colour)
{
    public string Placeholder => $"{(Colour[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an" : "a")} {Colour} {VideoDemoDataset.ShapeNames[Shape]}";
}

/// <summary>
/// The embedded video dataset (spec: notes/video-spec.md): 8 classes defined only by motion, over random appearance,
/// written twice — as Kinetics-400 (official CSVs, <c>split/label/id_start_end.mp4</c> H.264, VideoMAE list files) and as
/// Something-Something v2 (train/validation/labels JSON, <c>20bn-something-something-v2/&lt;id&gt;.webm</c> VP9).
///
/// Per clip (all random, from the clip's own seed, with one distribution for every class): the shape (crescent,
/// diamond, triangle, arrow, L; none has a rotational symmetry under 120°, so a turn of 8-12° per frame shows), its
/// diameter (14-24 px at 80 px), a named colour (jittered), a background (a two-colour gradient far from the object's
/// colour, static pixel noise and faint blobs), a position and an orientation. The class is the motion, at 80 px:
/// translations 1.5-2.5 px/frame (capped so the whole path fits with the centre at least a quarter radius inside the frame: 2.39-2.47 px/frame at 32 frames),
/// rotation 8-12°/frame about the shape's centroid, bouncing 3-4 px/frame at 45±25° off the axes, reflected at the
/// borders, drifting 0.4-0.6 px/frame in any direction. Speeds scale with --size.
/// </summary>
public static class VideoDemoDataset
{
    public static readonly (string Label, string Template)[] Classes =
    [
        ("moving left to right", "Moving [something] from left to right"),
        ("moving right to left", "Moving [something] from right to left"),
        ("moving top to bottom", "Moving [something] from top to bottom"),
        ("moving bottom to top", "Moving [something] from bottom to top"),
        ("rotating clockwise", "Turning [something] clockwise"),
        ("rotating anticlockwise", "Turning [something] anticlockwise"),
        ("bouncing", "Bouncing [something] off the walls"),
        ("drifting slowly", "Pushing [something] slowly"),
    ];

    /// <summary>SSv2's labels-file key for a template: "[something]" → "something".</summary>
    public static string LabelKey(string template) => template.Replace("[something]", "something");

    public static readonly Dictionary<string, string> ShapeNames = new()
    {
        ["crescent"] = "crescent", ["diamond"] = "diamond", ["triangle"] = "triangle", ["arrow"] = "arrow", ["ell"] = "L-shape",
    };
    static readonly string[] ShapeKinds = ["crescent", "diamond", "triangle", "arrow", "ell"];

    static readonly (string Name, int R, int G, int B)[] Palette =
    [
        ("red", 220, 40, 40), ("green", 40, 180, 60), ("blue", 40, 80, 220), ("yellow", 235, 215, 40), ("orange", 240, 140, 30),
        ("purple", 140, 60, 190), ("pink", 240, 120, 190), ("cyan", 40, 200, 210), ("white", 240, 240, 240), ("black", 20, 20, 20),
        ("brown", 130, 80, 40),
    ];

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    static string EncoderSettings(VideoDemoOptions o) =>
        $"mp4: libx264 -preset veryfast -crf 23 yuv420p; webm: libvpx-vp9 -deadline realtime -cpu-used 8 -crf 32 -b:v 0 yuv420p; {o.Fps} fps; " +
        $"kinetics frames: decoded from each mp4, {FrameArgs} img_%05d.jpg";

    /// <summary>The per-output arguments of <c>VideoFrames.Extract</c> at its defaults (jpg, no rescale, -q:v 2), so the
    /// frame folders written here are byte-identical to what <c>convmae video extract-frames</c> writes.</summary>
    const string FrameArgs = "-an -fps_mode passthrough -start_number 1 -q:v 2";

    static string Manifest(VideoDemoOptions o) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["format_version"] = VideoDemoOptions.FormatVersion, ["seed"] = o.Seed, ["train_per_class"] = o.TrainPerClass,
        ["val_per_class"] = o.ValPerClass, ["frames"] = o.Frames, ["size"] = o.Size, ["fps"] = o.Fps,
        ["appearance"] = o.AppearanceName,
        ["classes"] = Classes.Select(c => c.Label).ToArray(), ["encoders"] = EncoderSettings(o),
    }, Indented);

    static void Validate(VideoDemoOptions o)
    {
        if (o.Frames < 8) throw new ArgumentException("--frames must be at least 8");
        if (o.Size < 32 || o.Size % 2 != 0) throw new ArgumentException("--size must be even and at least 32 (yuv420p)");
        if (o.Fps < 1) throw new ArgumentException("--fps must be positive");
        if (o.TrainPerClass < 1 || o.ValPerClass < 1) throw new ArgumentException("--train-per-class and --val-per-class must be positive");
    }

    /// <summary>Every clip, train then val, class-major: ids and render seeds, all from the options' seed.</summary>
    public static List<VideoDemoClip> Plan(VideoDemoOptions o)
    {
        var idRng = new Random(unchecked(o.Seed * 1_000_003 + 424_242) & 0x7fffffff);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        int total = Classes.Length * (o.TrainPerClass + o.ValPerClass);
        var ssIds = Enumerable.Range(1, total).ToArray();
        for (int i = total - 1; i > 0; i--) { int j = idRng.Next(i + 1); (ssIds[i], ssIds[j]) = (ssIds[j], ssIds[i]); }
        var used = new HashSet<string>();
        var clips = new List<VideoDemoClip>(total);
        foreach (var (split, perClass, splitSeed) in new[] { ("train", o.TrainPerClass, 1), ("val", o.ValPerClass, 2) })
            for (int c = 0; c < Classes.Length; c++)
                for (int i = 0; i < perClass; i++)
                {
                    string id;
                    do id = new string(Enumerable.Range(0, 11).Select(_ => alphabet[idRng.Next(alphabet.Length)]).ToArray());
                    while (!used.Add(id));
                    clips.Add(new VideoDemoClip(split, c, i, id, ssIds[clips.Count], RenderSeed(o.Seed, splitSeed, c, i)));
                }
        return clips;
    }

    // A fixed formula (HashCode is randomised per process): adding clips to one class never changes the others.
    static int RenderSeed(int seed, int splitSeed, int c, int i) => unchecked(seed * 1_000_003 + splitSeed * 100_003 + c * 10_007 + i * 101 + 17) & 0x7fffffff;

    /// <summary>Writes the dataset under <paramref name="root"/>; false (and nothing written) when it is already current.</summary>
    public static bool Generate(string root, VideoDemoOptions o, Action<string>? progress = null, string? ffmpeg = null)
    {
        Validate(o);
        ffmpeg ??= FindFfmpeg();
        return GeneratedFolder.Write(root, Manifest(o), "a video demo dataset", tmp =>
        {
            var clips = Plan(o);
            foreach (var c in clips) Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(tmp, c.KineticsPath))!);
            Directory.CreateDirectory(Path.Combine(tmp, "ssv2", "20bn-something-something-v2"));
            Directory.CreateDirectory(Path.Combine(tmp, "kinetics", "lists"));
            var placeholders = new string[clips.Count];
            // ffmpeg's start-up costs more than encoding one small clip, so one process encodes a batch of clips as one
            // stream, cut into one file per clip by the segment muxer (a forced key frame starts every clip).
            var batches = clips.Select((c, k) => (c, k)).Chunk(BatchSize).ToArray();
            int done = 0;
            var gate = new object();
            try
            {
                EncodeAll();
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);   // the first ffmpeg error, as itself
            }
            void EncodeAll() => Parallel.ForEach(batches, new ParallelOptions { MaxDegreeOfParallelism = 2 }, batch =>
            {
                var frames = new List<byte[]>(batch.Length * o.Frames);
                foreach (var (c, k) in batch)
                {
                    var r = Render(c.Class, o.Frames, o.Size, new Random(c.RenderSeed), o.Appearance);
                    placeholders[k] = r.Placeholder;
                    frames.AddRange(r.Frames);
                }
                var work = Path.Combine(tmp, ".encode", batch[0].k.ToString("D6"));
                Directory.CreateDirectory(work);
                var what = Describe(batch.Select(x => x.c).ToArray());
                Encode(ffmpeg, frames, o, batch.Length, work, what);
                // The Kinetics clips' frame folders, decoded from the encoded mp4s (what a reader of the video sees),
                // one more process for the batch; SSv2's webm clips stay video-only, so the decode path is exercised.
                ExtractFrames(ffmpeg, o, batch.Length, work, what);
                for (int j = 0; j < batch.Length; j++)
                {
                    var mp4 = Path.Combine(tmp, batch[j].c.KineticsPath);
                    File.Move(Path.Combine(work, $"{j:D4}.mp4"), mp4);
                    Directory.Move(Path.Combine(work, $"{j:D4}"), Path.Combine(Path.GetDirectoryName(mp4)!, Path.GetFileNameWithoutExtension(mp4)));
                    File.Move(Path.Combine(work, $"{j:D4}.webm"), Path.Combine(tmp, batch[j].c.SsPath));
                }
                Directory.Delete(work);
                lock (gate)
                {
                    done += batch.Length;
                    var last = batch[^1].c;
                    progress?.Invoke($"{done}/{clips.Count} clips encoded (mp4 + frames + webm), up to {last.Split}/{Classes[last.Class].Label} #{last.Index}");
                }
            });
            Directory.Delete(Path.Combine(tmp, ".encode"));
            WriteKinetics(tmp, clips);
            WriteSsv2(tmp, clips, placeholders);
            File.WriteAllText(Path.Combine(tmp, "README.txt"),
                $"ConvMAE.Notebooks embedded video demo: 8 motion classes over {o.AppearanceName} appearance, the same clips in the\n" +
                "Kinetics-400 layout (kinetics/) and the Something-Something v2 layout (ssv2/). Generated by data-prep generate-video.\n");
        });
    }

    /// <summary>The space-free name of a label folder in the VideoMAE lists' view (<c>lists/videos/&lt;split&gt;/</c>).</summary>
    public static string ListFolderName(string label) => label.Replace(' ', '_');

    static void WriteKinetics(string tmp, List<VideoDemoClip> clips)
    {
        foreach (var split in new[] { "train", "val" })
        {
            // VideoMAE splits a list line on every space (pandas delimiter ' ' when finetuning, line.split(' ') when
            // pretraining), and the official label folders have spaces. The folders keep their names; the lists go
            // through lists/videos/<split>/<label_with_underscores>, relative links to ../../../<split>/<label>.
            var view = Path.Combine(tmp, "kinetics", "lists", "videos", split);
            Directory.CreateDirectory(view);
            foreach (var (label, _) in Classes)
                Directory.CreateSymbolicLink(Path.Combine(view, ListFolderName(label)), Path.Combine("..", "..", "..", split, label));
            var csv = new StringBuilder("label,youtube_id,time_start,time_end,split\n");
            var list = new StringBuilder();
            foreach (var c in clips.Where(c => c.Split == split))
            {
                csv.Append($"{Classes[c.Class].Label},{c.YoutubeId},{VideoDemoClip.TimeStart},{VideoDemoClip.TimeEnd},{split}\n");
                // Relative to the list file's folder (kinetics/lists/), without a space: "path label".
                list.Append($"videos/{split}/{ListFolderName(Classes[c.Class].Label)}/{Path.GetFileName(c.KineticsPath)} {c.Class}\n");
            }
            File.WriteAllText(Path.Combine(tmp, "kinetics", $"{split}.csv"), csv.ToString());
            File.WriteAllText(Path.Combine(tmp, "kinetics", "lists", $"{split}.csv"), list.ToString());
            if (split == "val") File.WriteAllText(Path.Combine(tmp, "kinetics", "lists", "test.csv"), list.ToString());
        }
    }

    static void WriteSsv2(string tmp, List<VideoDemoClip> clips, string[] placeholders)
    {
        foreach (var (split, file) in new[] { ("train", "train"), ("val", "validation") })
        {
            var arr = new JsonArray();
            for (int k = 0; k < clips.Count; k++)
            {
                var c = clips[k];
                if (c.Split != split) continue;
                var template = Classes[c.Class].Template;
                var label = template.Replace("[something]", placeholders[k]);
                arr.Add(new JsonObject
                {
                    ["id"] = c.SsId.ToString(), ["label"] = char.ToLowerInvariant(label[0]) + label[1..], ["template"] = template,
                    ["placeholders"] = new JsonArray(placeholders[k]),
                });
            }
            File.WriteAllText(Path.Combine(tmp, "ssv2", $"something-something-v2-{file}.json"), arr.ToJsonString(Indented));
        }
        var labels = new JsonObject();
        for (int c = 0; c < Classes.Length; c++) labels[LabelKey(Classes[c].Template)] = c.ToString();
        File.WriteAllText(Path.Combine(tmp, "ssv2", "something-something-v2-labels.json"), labels.ToJsonString(Indented));
    }

    // ---- encoding ----

    public static string FindFfmpeg()
    {
        if (Environment.GetEnvironmentVariable("FFMPEG") is { Length: > 0 } env) return env;
        if (File.Exists("/usr/bin/ffmpeg")) return "/usr/bin/ffmpeg";
        return "ffmpeg";
    }

    const int BatchSize = 20;

    static string Describe(VideoDemoClip[] clips) => clips.Length == 1
        ? Describe(clips[0])
        : $"clips {Describe(clips[0])} to {Describe(clips[^1])}";

    static string Describe(VideoDemoClip c) => $"{c.Split}/{Classes[c.Class].Label} #{c.Index} ({c.YoutubeId}, ssv2 {c.SsId})";

    /// <summary>One ffmpeg process for <paramref name="count"/> clips: raw rgb24 frames on stdin, two segmented outputs
    /// (H.264 <c>NNNN.mp4</c> and VP9 <c>NNNN.webm</c> in <paramref name="dir"/>), one file per clip.</summary>
    static void Encode(string ffmpeg, List<byte[]> frames, VideoDemoOptions o, int count, string dir, string what)
    {
        string f = o.Frames.ToString();
        var cuts = string.Join(",", Enumerable.Range(1, count - 1).Select(i => (i * o.Frames).ToString()));
        var args = new List<string>
        {
            "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{o.Size}x{o.Size}",
            "-r", o.Fps.ToString(), "-i", "-",
        };
        foreach (var (codec, ext, format) in new[]
                 {
                     (new[] { "libx264", "-preset", "veryfast", "-crf", "23", "-sc_threshold", "0" }, "mp4", "mp4"),
                     (new[] { "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-crf", "32", "-b:v", "0" }, "webm", "webm"),
                 })
        {
            // Options are per output: bit-exact muxing (no random WebM segment UID, no encoder version strings) for both.
            args.AddRange(["-an", "-c:v", .. codec, "-pix_fmt", "yuv420p", "-threads", "1", "-g", f, "-keyint_min", f,
                           "-force_key_frames", $"expr:eq(mod(n,{f}),0)", "-fflags", "+bitexact", "-flags:v", "+bitexact"]);
            if (count > 1) args.AddRange(["-f", "segment", "-segment_format", format, "-segment_frames", cuts, "-reset_timestamps", "1",
                                          Path.Combine(dir, "%04d." + ext)]);
            else args.Add(Path.Combine(dir, "0000." + ext));
        }
        var (exit, err) = RunFfmpeg(ffmpeg, args, s => { foreach (var frame in frames) s.Write(frame); });
        var missing = Enumerable.Range(0, count).SelectMany(j => new[] { $"{j:D4}.mp4", $"{j:D4}.webm" })
            .Where(n => !File.Exists(Path.Combine(dir, n))).ToList();
        if (exit != 0 || missing.Count > 0)
            throw new IOException($"ffmpeg failed on {what} ({(exit != 0 ? $"exit code {exit}" : $"no {string.Join(", ", missing.Take(4))}")}):\n{Tail(err)}");
    }

    /// <summary>One ffmpeg process decodes the batch's <c>NNNN.mp4</c> files in <paramref name="dir"/> (one input each)
    /// into <c>NNNN/img_00001.jpg</c>... (one output each, with <see cref="FrameArgs"/>, as <c>VideoFrames.Extract</c>);
    /// every folder must hold the clip's frame count.</summary>
    static void ExtractFrames(string ffmpeg, VideoDemoOptions o, int count, string dir, string what)
    {
        var args = new List<string> { "-hide_banner", "-loglevel", "error", "-y" };
        // One decoding thread per input (H.264 decoding is bit-exact whatever the threads; 20 inputs with their own
        // thread pools cost twice the time on 2 cores). The JPEG outputs keep Extract's defaults.
        for (int j = 0; j < count; j++) args.AddRange(["-threads", "1", "-i", Path.Combine(dir, $"{j:D4}.mp4")]);
        for (int j = 0; j < count; j++)
        {
            Directory.CreateDirectory(Path.Combine(dir, $"{j:D4}"));
            args.AddRange(["-map", $"{j}:v:0", .. FrameArgs.Split(' '), Path.Combine(dir, $"{j:D4}", "img_%05d.jpg")]);
        }
        var (exit, err) = RunFfmpeg(ffmpeg, args, null);
        var wrong = Enumerable.Range(0, count)
            .Select(j => (j, n: Directory.GetFiles(Path.Combine(dir, $"{j:D4}"), "img_*.jpg").Length))
            .Where(x => x.n != o.Frames).Select(x => $"{x.j:D4}: {x.n} frames").ToList();
        if (exit != 0 || wrong.Count > 0)
            throw new IOException($"ffmpeg failed extracting the frames of {what} ({(exit != 0 ? $"exit code {exit}" : string.Join(", ", wrong.Take(4)) + $", expected {o.Frames}")}):\n{Tail(err)}");
    }

    static string Tail(string err) => string.Join("\n", err.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(12).Select(l => "    " + l));

    /// <summary>Runs ffmpeg with <paramref name="args"/>, writing <paramref name="stdin"/> (when given) to its input;
    /// returns the exit code and the standard error.</summary>
    static (int Exit, string Err) RunFfmpeg(string ffmpeg, List<string> args, Action<Stream>? stdin)
    {
        var psi = new ProcessStartInfo(ffmpeg)
        {
            RedirectStandardInput = stdin is not null, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var arg in args) psi.ArgumentList.Add(arg);
        Process p;
        try { p = Process.Start(psi) ?? throw new IOException($"could not start {ffmpeg}"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new IOException($"could not start {ffmpeg} ({e.Message}); install ffmpeg (apt-get install ffmpeg) or set FFMPEG to its path");
        }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            string? writeError = null;
            if (stdin is not null)
                try
                {
                    var s = p.StandardInput.BaseStream;
                    stdin(s);
                    s.Close();
                }
                catch (IOException e) { writeError = e.Message; }   // ffmpeg exited early: its stderr says why
            p.WaitForExit();
            _ = stdout.Result;
            return (p.ExitCode, stderr.Result + (writeError is null ? "" : "\n" + writeError));
        }
    }

    // ---- rendering ----

    /// <summary>Centroid offset and radius of each shape in its own unit frame, so that shapes turn about their centroid
    /// and fit the radius-1 disc.</summary>
    static readonly Dictionary<string, (double Cx, double Cy, double R)> Frames0 = ShapeKinds.ToDictionary(s => s, Normalise);

    static (double, double, double) Normalise(string shape)
    {
        double sx = 0, sy = 0; int n = 0;
        const int G = 241;
        for (int j = 0; j < G; j++)
            for (int i = 0; i < G; i++)
            {
                double x = -1.2 + 2.4 * i / (G - 1), y = -1.2 + 2.4 * j / (G - 1);
                if (RawDistance(shape, x, y) < 0) { sx += x; sy += y; n++; }
            }
        double cx = sx / n, cy = sy / n, r = 0;
        for (int j = 0; j < G; j++)
            for (int i = 0; i < G; i++)
            {
                double x = -1.2 + 2.4 * i / (G - 1), y = -1.2 + 2.4 * j / (G - 1);
                if (RawDistance(shape, x, y) < 0) r = Math.Max(r, Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)));
            }
        return (cx, cy, r);
    }

    static double RawDistance(string shape, double x, double y) => shape switch
    {
        // A shaft (x from -0.85 to 0.15) and a head: the triangle with its tip at (0.95, 0) and its base at x = 0.15, |y| ≤ 0.5.
        "arrow" => Math.Min(Box(x + 0.35, y, 0.5, 0.18), Math.Max(0.15 - x, (0.5 * (x - 0.95) + 0.8 * Math.Abs(y)) / 0.9434)),
        "ell" => Math.Min(Box(x + 0.55, y, 0.25, 0.85), Box(x, y - 0.6, 0.8, 0.25)),
        _ => Shapes.Distance(shape, x, y),
    };

    static double Box(double x, double y, double hx, double hy)
    {
        double dx = Math.Abs(x) - hx, dy = Math.Abs(y) - hy;
        return Math.Sqrt(Math.Max(dx, 0) * Math.Max(dx, 0) + Math.Max(dy, 0) * Math.Max(dy, 0)) + Math.Min(Math.Max(dx, dy), 0);
    }

    /// <summary>One clip's frames for class <paramref name="cls"/>, deterministic from <paramref name="rng"/>.</summary>
    public static VideoDemoFrames Render(int cls, int frames, int size, Random rng, VideoAppearance appearance = VideoAppearance.Random)
    {
        if (cls < 0 || cls >= Classes.Length) throw new ArgumentOutOfRangeException(nameof(cls));
        double k = size / 80.0;                                            // speeds and sizes are specified at 80 px
        string shape = ShapeKinds[rng.Next(ShapeKinds.Length)];
        var named = Palette[rng.Next(Palette.Length)];
        double[] fg = [Jitter(named.R, rng), Jitter(named.G, rng), Jitter(named.B, rng)];
        double radius = (7 + 5 * rng.NextDouble()) * k;                    // diameter 14-24 px
        var background = Background(size, fg, rng);
        if (appearance == VideoAppearance.Fixed)
        {
            // The draws above are still made, so a clip's motion is drawn from the same numbers in both appearances
            // (the same speeds, turns and directions; the start depends on the size, which bounds the path).
            shape = "arrow";
            named = Palette[0];
            fg = [named.R, named.G, named.B];
            radius = 10 * k;
            Array.Fill(background, (byte)128);
        }
        double angle0 = rng.NextDouble() * 360;
        var centres = new (double X, double Y)[frames];
        var angles = new double[frames];
        double lo = radius, hi = size - radius;                            // fully visible
        double Uniform(double a, double b) => a + (b - a) * rng.NextDouble();
        switch (cls)
        {
            case 0: case 1: case 2: case 3:
            {
                // Along the axis the centre stays a quarter radius inside the frame, so over half the object is always visible.
                double tlo = 0.25 * radius, thi = size - 0.25 * radius;
                double speed = Math.Min(Uniform(1.5, 2.5) * k, (thi - tlo) / (frames - 1));
                double travel = speed * (frames - 1);
                double start = Uniform(tlo, thi - travel);
                double side = Uniform(-0.15, 0.15) * k;                    // a slight drift across the axis
                double across = Uniform(lo + 2 * k, hi - 2 * k);
                for (int t = 0; t < frames; t++)
                {
                    double along = cls is 0 or 2 ? start + speed * t : thi - (start - tlo) - speed * t;
                    double a = Math.Clamp(across + side * t, lo, hi);
                    centres[t] = cls < 2 ? (along, a) : (a, along);
                    angles[t] = angle0;
                }
                break;
            }
            case 4: case 5:
            {
                double omega = Uniform(8, 12) * (cls == 4 ? 1 : -1);      // + is clockwise on screen (y points down)
                double cx = Uniform(lo + 2 * k, hi - 2 * k), cy = Uniform(lo + 2 * k, hi - 2 * k);
                for (int t = 0; t < frames; t++) { centres[t] = (cx, cy); angles[t] = angle0 + omega * t; }
                break;
            }
            case 6:
            {
                double speed = Uniform(3, 4) * k, dir = (Uniform(20, 70) + 90 * rng.Next(4)) * Math.PI / 180;
                double vx = speed * Math.Cos(dir), vy = speed * Math.Sin(dir);
                double x = Uniform(lo, hi), y = Uniform(lo, hi);
                for (int t = 0; t < frames; t++)
                {
                    centres[t] = (x, y); angles[t] = angle0;
                    (x, vx) = Reflect(x + vx, vx, lo, hi);
                    (y, vy) = Reflect(y + vy, vy, lo, hi);
                }
                break;
            }
            default:
            {
                double speed = Uniform(0.4, 0.6) * k, dir = Uniform(0, 2 * Math.PI);
                double vx = speed * Math.Cos(dir), vy = speed * Math.Sin(dir), span = frames - 1;
                double x0 = Uniform(Math.Max(lo, lo - vx * span), Math.Min(hi, hi - vx * span));
                double y0 = Uniform(Math.Max(lo, lo - vy * span), Math.Min(hi, hi - vy * span));
                for (int t = 0; t < frames; t++) { centres[t] = (x0 + vx * t, y0 + vy * t); angles[t] = angle0; }
                break;
            }
        }
        var (ncx, ncy, nr) = Frames0[shape];
        var output = new byte[frames][];
        for (int t = 0; t < frames; t++)
        {
            var f = (byte[])background.Clone();
            var (cx, cy) = centres[t];
            double a = angles[t] * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a);
            int x0 = Math.Max(0, (int)Math.Floor(cx - radius - 2)), x1 = Math.Min(size - 1, (int)Math.Ceiling(cx + radius + 2));
            int y0 = Math.Max(0, (int)Math.Floor(cy - radius - 2)), y1 = Math.Min(size - 1, (int)Math.Ceiling(cy + radius + 2));
            for (int py = y0; py <= y1; py++)
                for (int px = x0; px <= x1; px++)
                {
                    double u = px + 0.5 - cx, v = py + 0.5 - cy;
                    // Inverse rotation into the shape's frame: the shape turns by +angle, clockwise on screen.
                    double lx = (u * cos + v * sin) / radius, ly = (-u * sin + v * cos) / radius;
                    double d = RawDistance(shape, lx * nr + ncx, ly * nr + ncy) / nr;
                    double coverage = Math.Clamp(0.5 - d * radius, 0, 1);
                    if (coverage <= 0) continue;
                    int i = (py * size + px) * 3;
                    for (int ch = 0; ch < 3; ch++) f[i + ch] = Clip(f[i + ch] + (fg[ch] - f[i + ch]) * coverage);
                }
            output[t] = f;
        }
        return new VideoDemoFrames(output, background, centres, angles, shape, named.Name);
    }

    static (double, double) Reflect(double p, double v, double lo, double hi)
    {
        if (p > hi) return (2 * hi - p, -v);
        if (p < lo) return (2 * lo - p, -v);
        return (p, v);
    }

    /// <summary>A gradient between two colours far (L1 ≥ 150) from the object's, static pixel noise (±12) and three faint blobs.</summary>
    static byte[] Background(int size, double[] fg, Random rng)
    {
        double[] a = [], b = [];
        for (int attempt = 0; attempt < 500; attempt++)
        {
            a = [rng.Next(20, 236), rng.Next(20, 236), rng.Next(20, 236)];
            b = [rng.Next(20, 236), rng.Next(20, 236), rng.Next(20, 236)];
            double[] mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2];
            if (L1(a, fg) >= 150 && L1(b, fg) >= 150 && L1(mid, fg) >= 150) break;
        }
        double angle = rng.NextDouble() * Math.PI * 2, ca = Math.Cos(angle), sa = Math.Sin(angle);
        var blobs = Enumerable.Range(0, 3).Select(_ => (X: rng.NextDouble() * size, Y: rng.NextDouble() * size,
            R: (8 + 12 * rng.NextDouble()) * size / 80.0, A: (rng.NextDouble() - 0.5) * 40)).ToArray();
        var rgb = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double t = Math.Clamp(0.5 + ((x - size / 2.0) * ca + (y - size / 2.0) * sa) / size, 0, 1);
                double blob = 0;
                foreach (var bl in blobs) blob += bl.A * Math.Exp(-((x - bl.X) * (x - bl.X) + (y - bl.Y) * (y - bl.Y)) / (2 * bl.R * bl.R));
                int i = (y * size + x) * 3;
                for (int ch = 0; ch < 3; ch++) rgb[i + ch] = Clip(a[ch] + (b[ch] - a[ch]) * t + blob + (rng.NextDouble() - 0.5) * 24);
            }
        return rgb;
    }

    static double L1(double[] p, double[] q) => Math.Abs(p[0] - q[0]) + Math.Abs(p[1] - q[1]) + Math.Abs(p[2] - q[2]);
    static double Jitter(int v, Random rng) => Math.Clamp(v + rng.Next(-15, 16), 0, 255);
    static byte Clip(double v) => (byte)Math.Clamp(Math.Round(v), 0, 255);
}
