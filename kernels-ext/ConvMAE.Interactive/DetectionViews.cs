using ConvMAE.Data;
using ConvMAE.Data.Coco;
using ConvMAE.Detection;
using static TorchSharp.torch;

namespace ConvMAE.Interactive;

/// <summary>Pictures of detection data and results: instances (masks and boxes) over images, anchors and proposals
/// as outlines, the feature pyramid as heat maps. Tensors are [3,H,W] in [0,1] for <see cref="Gallery"/>.</summary>
public static class DetectionViews
{
    /// <summary>Masks painted at <paramref name="alpha"/> and boxes (x1,y1,x2,y2) outlined in their class colour;
    /// crowd regions (<paramref name="dashed"/>) outlined in dashes.</summary>
    public static Tensor Instances(Rgb8Image image, IReadOnlyList<double[]> boxes, IReadOnlyList<int> classes, IReadOnlyList<byte[]>? masks = null,
                                   double alpha = 0.45, IReadOnlyList<bool>? dashed = null)
    {
        var rgb = (byte[])image.Data.Clone();
        int w = image.Width, h = image.Height;
        for (int k = 0; k < boxes.Count; k++)
        {
            var colour = SegmentationViews.Colour(classes[k]);
            if (masks is not null)
                for (int i = 0; i < w * h; i++)
                    if (masks[k][i] != 0) SegmentationViews.Tint(rgb, i, colour, alpha);
            Outline(rgb, w, h, boxes[k], colour, dashed?[k] ?? false);
        }
        return SegmentationViews.ToTensor(rgb, w, h);
    }

    /// <summary>An image's ground truth as the reader gives it (crowd regions dashed).</summary>
    public static Tensor GroundTruth(DetImage d)
    {
        int h = d.Image.Height, w = d.Image.Width;
        return Instances(d.Image, d.Instances.Select(i => i.Box).ToList(), d.Instances.Select(i => i.Class).ToList(),
                         d.Instances.Select(i => CocoMasks.ToRle(i.Segmentation, h, w).Decode()).ToList(), dashed: d.Instances.Select(i => i.IsCrowd).ToList());
    }

    /// <summary>A training sample after the LSJ transform (S×S, padding grey).</summary>
    public static Tensor Sample(DetSample s)
    {
        int n = s.InstanceCount, px = s.Size * s.Size;
        return Instances(new Rgb8Image(s.Size, s.Size, s.Pixels), Enumerable.Range(0, n).Select(i => s.Boxes.Skip(4 * i).Take(4).Select(v => (double)v).ToArray()).ToList(),
                         s.Classes.Select(c => (int)c).ToList(), Enumerable.Range(0, n).Select(i => s.Masks.AsSpan(i * px, px).ToArray()).ToList());
    }

    /// <summary>Detections in the original frame with a score of at least <paramref name="minScore"/>.</summary>
    public static Tensor Predictions(Rgb8Image image, ImagePrediction p, double minScore = 0.5)
    {
        var kept = Enumerable.Range(0, p.Scores.Length).Where(i => p.Scores[i] >= minScore).ToList();
        return Instances(image, kept.Select(i => p.Boxes[i]).ToList(), kept.Select(i => p.Classes[i]).ToList(), kept.Select(i => p.Masks[i].Decode()).ToList());
    }

    /// <summary>Boxes as outlines only, one colour per group (anchors by level, proposals by rank).</summary>
    public static Tensor Boxes(Rgb8Image image, IReadOnlyList<double[]> boxes, IReadOnlyList<int> colours)
    {
        var rgb = (byte[])image.Data.Clone();
        for (int k = 0; k < boxes.Count; k++) Outline(rgb, image.Width, image.Height, boxes[k], SegmentationViews.Colour(colours[k]), false);
        return SegmentationViews.ToTensor(rgb, image.Width, image.Height);
    }

    /// <summary>A feature map [1,C,H,W] as a heat map of its per-position L2 norm over channels, scaled to [0,1] and
    /// upsampled (each cell repeated) to <paramref name="size"/> so that levels compare side by side.</summary>
    public static Tensor Heat(Tensor feature, int size)
    {
        using var scope = NewDisposeScope();
        var n = feature[0].to(float32).pow(2).sum(dim: 0).sqrt();                             // [H,W]
        n = (n - n.min()) / (n.max() - n.min() + 1e-6);
        long fy = Math.Max(1, size / n.shape[0]), fx = Math.Max(1, size / n.shape[1]);         // pyramid levels divide the input
        var up = n.repeat_interleave(fy, 0).repeat_interleave(fx, 1);
        // A blue→yellow ramp: dark where the features are quiet, bright where they respond.
        return stack([up, up.sqrt() * 0.9, (1 - up) * 0.6 + 0.1]).MoveToOuterDisposeScope();
    }

    static void Outline(byte[] rgb, int w, int h, double[] box, (byte R, byte G, byte B) c, bool dashed)
    {
        int x1 = (int)Math.Floor(box[0]), y1 = (int)Math.Floor(box[1]), x2 = (int)Math.Ceiling(box[2]) - 1, y2 = (int)Math.Ceiling(box[3]) - 1;
        void Set(int x, int y)
        {
            if (x < 0 || y < 0 || x >= w || y >= h) return;
            if (dashed && ((x + y) / 3) % 2 == 1) return;
            rgb[(y * w + x) * 3] = c.R; rgb[(y * w + x) * 3 + 1] = c.G; rgb[(y * w + x) * 3 + 2] = c.B;
        }
        for (int x = x1; x <= x2; x++) { Set(x, y1); Set(x, y2); }
        for (int y = y1; y <= y2; y++) { Set(x1, y); Set(x2, y); }
    }
}
