using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>detectron2's Box2BoxTransform: (dx, dy, dw, dh) of a target box relative to a source box, scaled by
/// per-coordinate weights; dw/dh are clamped to log(1000/16) when decoding. Boxes are [N, 4] x1, y1, x2, y2.</summary>
public sealed record BoxCoder(double Wx, double Wy, double Ww, double Wh)
{
    public static readonly double ScaleClamp = Math.Log(1000.0 / 16);

    /// <summary>[N,4] deltas turning <paramref name="src"/> into <paramref name="target"/>.</summary>
    public Tensor GetDeltas(Tensor src, Tensor target)
    {
        using var scope = NewDisposeScope();
        var sw = src[.., 2] - src[.., 0]; var sh = src[.., 3] - src[.., 1];
        var sx = src[.., 0] + 0.5 * sw; var sy = src[.., 1] + 0.5 * sh;
        var tw = target[.., 2] - target[.., 0]; var th = target[.., 3] - target[.., 1];
        var tx = target[.., 0] + 0.5 * tw; var ty = target[.., 1] + 0.5 * th;
        return stack([Wx * (tx - sx) / sw, Wy * (ty - sy) / sh, Ww * log(tw / sw), Wh * log(th / sh)], 1).MoveToOuterDisposeScope();
    }

    /// <summary>Decodes [N, 4k] deltas (k boxes per row: class-specific regression) against [N, 4] boxes → [N, 4k].</summary>
    public Tensor ApplyDeltas(Tensor deltas, Tensor boxes)
    {
        using var scope = NewDisposeScope();
        boxes = boxes.to(deltas.dtype);
        var w = (boxes[.., 2] - boxes[.., 0]).unsqueeze(1); var h = (boxes[.., 3] - boxes[.., 1]).unsqueeze(1);
        var cx = boxes[.., 0].unsqueeze(1) + 0.5 * w; var cy = boxes[.., 1].unsqueeze(1) + 0.5 * h;
        var dx = deltas[.., TensorIndex.Slice(0, null, 4)] / Wx; var dy = deltas[.., TensorIndex.Slice(1, null, 4)] / Wy;
        var dw = (deltas[.., TensorIndex.Slice(2, null, 4)] / Ww).clamp_max(ScaleClamp);
        var dh = (deltas[.., TensorIndex.Slice(3, null, 4)] / Wh).clamp_max(ScaleClamp);
        var px = dx * w + cx; var py = dy * h + cy; var pw = exp(dw) * w; var ph = exp(dh) * h;
        var x1 = px - 0.5 * pw; var y1 = py - 0.5 * ph; var x2 = px + 0.5 * pw; var y2 = py + 0.5 * ph;
        return stack([x1, y1, x2, y2], 2).reshape(deltas.shape).MoveToOuterDisposeScope();
    }
}

/// <summary>Box helpers as detectron2's structures.Boxes and layers.nms.</summary>
public static class BoxOps
{
    /// <summary>[N, M] IoU of [N,4] and [M,4] boxes (pairwise_iou: 0 where they do not overlap).</summary>
    public static Tensor PairwiseIou(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var areaA = (a[.., 2] - a[.., 0]) * (a[.., 3] - a[.., 1]);
        var areaB = (b[.., 2] - b[.., 0]) * (b[.., 3] - b[.., 1]);
        var lt = maximum(a.narrow(1, 0, 2).unsqueeze(1), b.narrow(1, 0, 2).unsqueeze(0));   // [N,M,2]
        var rb = minimum(a.narrow(1, 2, 2).unsqueeze(1), b.narrow(1, 2, 2).unsqueeze(0));
        var wh = (rb - lt).clamp_min(0);
        var inter = wh[.., .., 0] * wh[.., .., 1];
        var iou = where(inter > 0, inter / (areaA.unsqueeze(1) + areaB.unsqueeze(0) - inter), zeros_like(inter));
        return iou.MoveToOuterDisposeScope();
    }

    /// <summary>Clips [N,4] boxes to an image of height × width (Boxes.clip).</summary>
    public static Tensor Clip(Tensor boxes, int height, int width) =>
        stack([boxes[.., 0].clamp(0, width), boxes[.., 1].clamp(0, height), boxes[.., 2].clamp(0, width), boxes[.., 3].clamp(0, height)], 1);

    /// <summary>Boxes.nonempty: width and height above <paramref name="threshold"/>.</summary>
    public static Tensor NonEmpty(Tensor boxes, double threshold = 0) =>
        ((boxes[.., 2] - boxes[.., 0]) > threshold).logical_and((boxes[.., 3] - boxes[.., 1]) > threshold);

    /// <summary>
    /// Greedy NMS per group (torchvision batched_nms): boxes of different <paramref name="groups"/> never suppress each
    /// other. Returns the kept indices sorted by decreasing score (ties: lower index first). Runs on the CPU in C#.
    /// </summary>
    public static long[] BatchedNms(Tensor boxes, Tensor scores, Tensor groups, double iouThreshold)
    {
        int n = (int)boxes.shape[0];
        if (n == 0) return [];
        var b = boxes.detach().to(float32).cpu().ToHost<float>();
        var s = scores.detach().to(float32).cpu().ToHost<float>();
        var g = groups.detach().to(int64).cpu().ToHost<long>();
        var order = Enumerable.Range(0, n).OrderByDescending(i => s[i]).ToArray();   // stable: ties keep index order
        var suppressed = new bool[n];
        var keep = new List<long>();
        for (int oi = 0; oi < n; oi++)
        {
            int i = order[oi];
            if (suppressed[i]) continue;
            keep.Add(i);
            float ix1 = b[i * 4], iy1 = b[i * 4 + 1], ix2 = b[i * 4 + 2], iy2 = b[i * 4 + 3];
            float areaI = (ix2 - ix1) * (iy2 - iy1);
            for (int oj = oi + 1; oj < n; oj++)
            {
                int j = order[oj];
                if (suppressed[j] || g[j] != g[i]) continue;
                float w = Math.Min(ix2, b[j * 4 + 2]) - Math.Max(ix1, b[j * 4]);
                float h = Math.Min(iy2, b[j * 4 + 3]) - Math.Max(iy1, b[j * 4 + 1]);
                if (w <= 0 || h <= 0) continue;
                float inter = w * h, areaJ = (b[j * 4 + 2] - b[j * 4]) * (b[j * 4 + 3] - b[j * 4 + 1]);
                if (inter / (areaI + areaJ - inter) > iouThreshold) suppressed[j] = true;
            }
        }
        return keep.ToArray();
    }
}

/// <summary>
/// detectron2's Matcher: each prediction (column) gets the ground truth (row) of highest quality and a label by
/// threshold interval; with low-quality matches allowed, every prediction that ties for a ground truth's best
/// quality is labelled positive (keeping its own argmax match).
/// </summary>
public sealed record Matcher(double[] Thresholds, int[] Labels, bool AllowLowQualityMatches)
{
    /// <param name="quality">[G, N] IoU.</param>
    /// <returns>matches [N] (ground-truth index) and labels [N].</returns>
    public (Tensor Matches, Tensor Labels) Match(Tensor quality)
    {
        long n = quality.shape[1];
        if (quality.shape[0] == 0)
            return (zeros(n, int64), full(n, (long)Labels[0], int64));
        using var scope = NewDisposeScope();
        var (vals, matches) = quality.max(0);
        var labels = full(n, 1L, int64);
        var bounds = new[] { double.NegativeInfinity }.Concat(Thresholds).Append(double.PositiveInfinity).ToArray();
        for (int k = 0; k < Labels.Length; k++)
        {
            var inRange = (vals >= bounds[k]).logical_and(vals < bounds[k + 1]);
            labels = where(inRange, full_like(labels, Labels[k]), labels);
        }
        if (AllowLowQualityMatches)
        {
            var best = quality.max(1).values;                                          // [G]
            var isBest = quality.eq(best.unsqueeze(1)).any(0);                         // [N]
            labels = where(isBest, ones_like(labels), labels);
        }
        return (matches.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}

/// <summary>detectron2's subsample_labels: up to num·fraction positives (label ∉ {-1, bg}) and the rest negatives
/// (label = bg), each chosen by a random permutation.</summary>
public static class Sampling
{
    public static (long[] Positive, long[] Negative) Subsample(long[] labels, int num, double positiveFraction, long bgLabel, Random rng)
    {
        var pos = Enumerable.Range(0, labels.Length).Where(i => labels[i] != -1 && labels[i] != bgLabel).Select(i => (long)i).ToArray();
        var neg = Enumerable.Range(0, labels.Length).Where(i => labels[i] == bgLabel).Select(i => (long)i).ToArray();
        int numPos = Math.Min(pos.Length, (int)(num * positiveFraction));
        int numNeg = Math.Min(neg.Length, num - numPos);
        return (Pick(pos, numPos, rng), Pick(neg, numNeg, rng));
    }

    static long[] Pick(long[] items, int k, Random rng)
    {
        var copy = (long[])items.Clone();
        for (int i = 0; i < k; i++) { int j = rng.Next(i, copy.Length); (copy[i], copy[j]) = (copy[j], copy[i]); }
        return copy[..k];
    }
}

/// <summary>Tensor contents as a managed array.</summary>
internal static class TensorHost
{
    /// <summary>The elements in row-major order; empty for an empty tensor (TorchSharp's accessor throws on those, and
    /// detection meets them all the time: no proposals kept, no detections above the threshold, no ground truth).</summary>
    public static T[] ToHost<T>(this Tensor t) where T : unmanaged => t.numel() == 0 ? [] : t.contiguous().data<T>().ToArray();
}
