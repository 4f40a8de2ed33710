using ConvMAE.Data;
using ConvMAE.Data.Video;
using ConvMAE.Video;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;
using Plotly.NET.CSharp;
using static TorchSharp.torch;
using CSharpChart = Plotly.NET.CSharp.Chart;

namespace ConvMAE.Interactive;

/// <summary>
/// Rows of frame strips, each with a caption: a clip's frames left to right as one image (class "convmae-strips").
/// Strips are [3,H,W] tensors in [0,1], as <see cref="VideoViews.Strip(Tensor)"/> makes them.
/// </summary>
public sealed record FrameStrips(IReadOnlyList<(string Caption, Tensor Strip)> Rows, string? Title = null)
{
    static FrameStrips() => Formatter.Register<FrameStrips>((s, w) => w.Write(s.Html()), HtmlFormatter.MimeType);

    public string Html()
    {
        var sb = new System.Text.StringBuilder("<div class=\"convmae-strips\">");
        if (Title is not null) sb.Append($"<div style=\"font-weight:bold\">{RuntimeTable.Html(Title)}</div>");
        sb.Append("<table>");
        foreach (var (caption, strip) in Rows)
            sb.Append($"<tr><td style=\"text-align:right;vertical-align:middle;font-size:small\">{RuntimeTable.Html(caption)}</td><td>")
              .Append(TensorFormatters.ImageHtml(strip, caption: "")).Append("</td></tr>");
        return sb.Append("</table></div>").ToString();
    }
}

/// <summary>
/// What the video autoencoder makes of clips, as the image kit's <see cref="ReconstructionGrid"/> shows images: per clip,
/// strips of the original, the clip with its masked tubes grey, the normalised-tubelet target, the decoder's prediction
/// of the masked tubelets in that normalised space (visible tubelets grey), and the prediction brought back to pixels
/// with each TRUE tubelet's per-channel mean and std (as the MAE visualisation does for norm_pix; the prediction alone
/// has no scale), visible tubelets pasted. All tensors [N,3,T,S,S] in [0,1]; the normalised ones shown as 0.5 + x/4
/// (±2 standard deviations), target and prediction on the same scale.
/// </summary>
public sealed record VideoReconstruction(Tensor Original, Tensor Masked, Tensor Target, Tensor Prediction, Tensor Reconstruction,
                                         double Loss, string Title, IReadOnlyList<string>? Captions = null) : IDisposable
{
    public static readonly string[] Rows = ["original", "masked (tubes grey)", "target (normalised tubelets)",
                                            "prediction (normalised, masked tubelets)", "reconstruction (true tubelet mean/std) + visible"];

    static VideoReconstruction() => Formatter.Register<VideoReconstruction>((r, w) => w.Write(r.Html()), HtmlFormatter.MimeType);

    public void Dispose() { Original.Dispose(); Masked.Dispose(); Target.Dispose(); Prediction.Dispose(); Reconstruction.Dispose(); }

    public string Html()
    {
        using var scope = NewDisposeScope();
        var sb = new System.Text.StringBuilder($"<div class=\"convmae-video-recon\"><div style=\"font-weight:bold\">{RuntimeTable.Html(Title)} " +
                                               $"(loss on the masked tubelets: {Loss:F4})</div>");
        for (long i = 0; i < Original.shape[0]; i++)
        {
            var rows = new[] { Original, Masked, Target, Prediction, Reconstruction }
                .Select((t, k) => (Rows[k], VideoViews.Strip(t[i]))).ToList();
            sb.Append(new FrameStrips(rows, Captions is { } c && i < c.Count ? c[(int)i] : $"clip {i}").Html());
        }
        return sb.Append("</div>").ToString();
    }

    /// <param name="clips">ImageNet-normalised [N,3,T,S,S], as the loaders give them.</param>
    /// <param name="noise">[N,L_s] tube-masking noise (fixed noise: the same tubes at every call).</param>
    public static VideoReconstruction Of(VideoMaskedAutoencoder model, Tensor clips, Tensor noise, string title, IReadOnlyList<string>? captions = null)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var guard = NativeCallGuard.Enter();   // called from notebooks and hooks, outside the trainer's guarded step
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var c = model.Config;
            using var tube = model.TubeMask(noise);
            using var output = model.Forward(clips, tube);
            int p = c.TokenPixels, kt = c.TubeletSize;
            long n = clips.shape[0], t = clips.shape[2], s = clips.shape[3];
            var target = model.Target(clips);                                                    // [N,L,D]
            var idx = tube.IdsMasked.unsqueeze(-1).expand(-1, -1, target.shape[2]);
            var predOnly = zeros_like(target).scatter_(1, idx, output.Pred.to(float32));           // masked = prediction, visible = 0
            var predFull = target.clone().scatter_(1, idx, output.Pred.to(float32));               // visible = target
            var original = VideoViews.Denormalize(clips);                                          // [N,3,T,S,S] in [0,1]
            Tensor recon;
            if (c.NormTarget)
            {
                var raw = VideoMaskedAutoencoder.Tubelets(original, kt, p);                                    // [N,L,kt·p·p,3]
                var mean = raw.mean([-2], keepdim: true);
                var std = raw.var(-2, unbiased: true, keepdim: true).sqrt() + 1e-6;
                recon = VideoMaskedAutoencoder.FromTubelets((predFull.view(raw.shape) * std + mean).flatten(2), kt, p, t, s);
            }
            else recon = VideoMaskedAutoencoder.FromTubelets(predFull, kt, p, t, s);
            var m = TubeMasking.Upsample(tube.SpatialMask, c.GridSize, p);                        // [N,1,1,S,S], 1 = removed
            Tensor Shown(Tensor normalised) => (0.5 + normalised / 4).clamp(0, 1);
            var result = new VideoReconstruction(
                original, original * (1 - m) + 0.5 * m, Shown(VideoMaskedAutoencoder.FromTubelets(target, kt, p, t, s)),
                Shown(VideoMaskedAutoencoder.FromTubelets(predOnly, kt, p, t, s)), recon.clamp(0, 1) * m + original * (1 - m),
                output.Loss.item<float>(), title, captions);
            scope.MoveToOuter(result.Original, result.Masked, result.Target, result.Prediction, result.Reconstruction);
            return result;
        }
        finally { model.train(wasTraining); }
    }
}

/// <summary>Pictures of video data and results: frame strips, tube masks over frames, clip batches for the models,
/// frame-sampling charts, per-class accuracy and comparison bars.</summary>
public static class VideoViews
{
    /// <summary>White pixels between two frames of a strip.</summary>
    public const int Gap = 2;

    /// <summary>Frames [3,T,H,W] in [0,1] side by side, [3,H,T·W + (T−1)·Gap].</summary>
    public static Tensor Strip(Tensor clip)
    {
        if (clip.dim() != 4 || clip.shape[0] != 3) throw new ArgumentException($"Strip: expected a clip [3,T,H,W], got [{string.Join(",", clip.shape)}]");
        using var scope = NewDisposeScope();
        var x = clip.detach().to(float32).cpu().clamp(0, 1);
        long t = x.shape[1], h = x.shape[2];
        var parts = new List<Tensor>();
        for (long f = 0; f < t; f++)
        {
            if (f > 0) parts.Add(ones(3, h, Gap));
            parts.Add(x[.., f]);
        }
        return cat(parts, 2).MoveToOuterDisposeScope();
    }

    /// <summary>Decoded frames as a strip.</summary>
    public static Tensor Strip(IReadOnlyList<Rgb8Image> frames) => Strip(ToClip(frames));

    /// <summary>Frames (all of one size) as a clip [3,T,H,W] in [0,1].</summary>
    public static Tensor ToClip(IReadOnlyList<Rgb8Image> frames)
    {
        using var scope = NewDisposeScope();
        return stack(frames.Select(SegmentationViews.ToTensor).ToArray(), 1).MoveToOuterDisposeScope();
    }

    /// <summary>ImageNet-normalised clips [N,3,T,S,S] (or one clip [3,T,S,S]) back to [0,1].</summary>
    public static Tensor Denormalize(Tensor clips)
    {
        using var scope = NewDisposeScope();
        var shape = clips.dim() == 5 ? new long[] { 1, 3, 1, 1, 1 } : [3, 1, 1, 1];
        var mean = tensor(ImageNetStats.Mean, device: clips.device).view(shape);
        var std = tensor(ImageNetStats.Std, device: clips.device).view(shape);
        return (clips.to(float32) * std + mean).clamp(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>A clip [3,T,H,W] in [0,1] with a mask (token [L_s], [g,g] or pixel [H,W]; 1 = removed) tinted red in
    /// every frame, as <see cref="MaskOverlay"/> tints an image: a tube is the same blocks in all frames.</summary>
    public static Tensor MaskedStrip(Tensor clip, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var frames = Enumerable.Range(0, (int)clip.shape[1]).Select(f => new MaskOverlay(clip[.., f], mask).Render()).ToArray();
        return Strip(stack(frames, 1)).MoveToOuterDisposeScope();
    }

    /// <summary>Clips <paramref name="indices"/> of a source (each with its own seeded Random), batched as the loader
    /// batches them: Clips ImageNet-normalised [N·Views,3,T,S,S], Labels [N].</summary>
    public static VideoBatch Batch(VideoClipSource source, IReadOnlyList<int> indices, int seed = 0)
    {
        var clips = indices.Select(i => source.Load(i, new Random(seed + i))).ToList();
        return VideoBatch.FromHost(VideoLoader.Collate(new BatchSlot(0, 0, indices.ToArray()), clips));
    }

    /// <summary>The first entry of each class in a dataset index (file order).</summary>
    public static int[] FirstOfEachClass(VideoIndex index) =>
        Enumerable.Range(0, index.NumClasses).Select(k => index.Entries.Select((e, i) => (e, i)).First(x => x.e.Label == k).i).ToArray();

    /// <summary>Which frames each sampler takes: one row of markers per sampling, frame index across (0 .. frameCount − 1).
    /// A frame taken more than once is one marker; its hover text says how often.</summary>
    public static GenericChart Sampling(IEnumerable<(string Name, int[] Frames)> rows, int frameCount, string title)
    {
        var list = rows.ToList();
        var traces = list.Select(r =>
        {
            var counts = r.Frames.GroupBy(f => f).OrderBy(g => g.Key).ToList();
            return CSharpChart.Point<int, string, string>(counts.Select(g => g.Key).ToArray(), counts.Select(_ => r.Name).ToArray(), Name: r.Name, ShowLegend: false,
                                                          MultiText: counts.Select(g => g.Count() > 1 ? $"frame {g.Key} ×{g.Count()}" : $"frame {g.Key}").ToArray());
        });
        var chart = CSharpChart.Combine(traces)
            .WithXAxisStyle<double, double, string>(TitleText: $"frame index (of {frameCount})", MinMax: new Tuple<double, double>(-0.5, frameCount - 0.5))
            .WithYAxisStyle<double, double, string>(TitleText: "")
            .WithSize(Width: Charts.DefaultWidth, Height: Math.Max(240, 60 + 40 * list.Count));
        return Charts.WithTitle(chart, title);
    }

    /// <summary>Per-class accuracy (%) as grouped bars, one series per model; NaN (a class with no clips) is left out.</summary>
    public static GenericChart ClassAccuracy(IReadOnlyList<string> classes, IEnumerable<(string Name, double[] Accuracy)> series, string title)
    {
        var bars = series.Select(s =>
        {
            var kept = Enumerable.Range(0, Math.Min(classes.Count, s.Accuracy.Length)).Where(k => !double.IsNaN(s.Accuracy[k])).ToArray();
            return CSharpChart.Column<double, string, string>(kept.Select(k => s.Accuracy[k]).ToArray(), Keys: kept.Select(k => classes[k]).ToArray(), Name: s.Name);
        });
        var chart = CSharpChart.Combine(bars).WithYAxisStyle<double, double, string>(TitleText: "top-1 (%)", MinMax: new Tuple<double, double>(0, 100))
                               .WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultHeight);
        return Charts.WithTitle(chart, title);
    }

    /// <summary>One bar per named value (e.g. top-1 of each arm), optionally a second series beside it.</summary>
    public static GenericChart Bars(IEnumerable<(string Name, double Value)> bars, string yTitle, string title, string seriesName = "",
                                    IEnumerable<(string Name, double Value)>? second = null, string secondName = "")
    {
        GenericChart Column(IEnumerable<(string Name, double Value)> b, string name)
        {
            var l = b.ToList();
            return CSharpChart.Column<double, string, string>(l.Select(x => x.Value).ToArray(), Keys: l.Select(x => x.Name).ToArray(), Name: name);
        }
        var chart = second is null ? Column(bars, seriesName) : CSharpChart.Combine([Column(bars, seriesName), Column(second, secondName)]);
        chart = chart.WithYAxisStyle<double, double, string>(TitleText: yTitle).WithSize(Width: Charts.DefaultWidth, Height: Charts.DefaultHeight);
        return Charts.WithTitle(chart, title);
    }
}
