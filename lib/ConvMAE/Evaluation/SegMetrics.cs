using ConvMAE.Data;

namespace ConvMAE.Evaluation;

/// <summary>mmsegmentation's metric results: fractions in [0, 1]; NaN where mmseg gives NaN (written as null in JSON).</summary>
public sealed record SegResult(double AAcc, double MIoU, double MAcc, double[] IoU, double[] Acc, long[] AreaIntersect, long[] AreaUnion,
                               long[] AreaPred, long[] AreaLabel);

/// <summary>
/// mmsegmentation's IoU metric (core/evaluation/metrics.py, 0.x): per image, pixels whose label is the ignore index
/// are dropped; the histograms of predictions, labels and agreeing predictions over classes 0..K−1 (torch.histc, so
/// values outside that range are not counted) are summed over the dataset; then IoU = intersect / union (NaN when the
/// union is 0), Acc = intersect / label area (NaN when the class is absent from the ground truth), mIoU and mAcc are
/// NaN-ignoring means, aAcc = total intersect / total labelled area. With reduce_zero_label the ground truth is mapped
/// as mmseg does before counting: 0 → 255, k → k − 1 (255 stays 255).
/// </summary>
public sealed class SegMetrics(int numClasses, int ignoreIndex = 255, bool reduceZeroLabel = false)
{
    readonly long[] intersect = new long[numClasses], pred = new long[numClasses], label = new long[numClasses];

    public int NumClasses => numClasses;
    public int Images { get; private set; }

    /// <summary>Adds one image: predicted classes and its ground truth in the dataset's own convention (same length).</summary>
    public void Add(ReadOnlySpan<byte> prediction, ReadOnlySpan<byte> groundTruth) => Add(prediction, groundTruth, null);

    public void Add(ReadOnlySpan<byte> prediction, ReadOnlySpan<byte> groundTruth, string? name)
    {
        if (prediction.Length != groundTruth.Length)
            throw new ArgumentException($"{name ?? "image"}: prediction has {prediction.Length} pixels, ground truth {groundTruth.Length}");
        for (int i = 0; i < prediction.Length; i++)
        {
            int l = groundTruth[i];
            if (reduceZeroLabel) l = l == 0 ? 255 : l - 1 == 254 ? 255 : l - 1;
            if (l == ignoreIndex) continue;
            int p = prediction[i];
            bool pIn = p < numClasses, lIn = l < numClasses;
            if (pIn) pred[p]++;
            if (lIn) label[l]++;
            if (pIn && p == l) intersect[p]++;
        }
        Images++;
    }

    public SegResult Result()
    {
        var union = Enumerable.Range(0, numClasses).Select(k => pred[k] + label[k] - intersect[k]).ToArray();
        var iou = Enumerable.Range(0, numClasses).Select(k => union[k] == 0 ? double.NaN : (double)intersect[k] / union[k]).ToArray();
        var acc = Enumerable.Range(0, numClasses).Select(k => label[k] == 0 ? double.NaN : (double)intersect[k] / label[k]).ToArray();
        long totalLabel = label.Sum();
        return new SegResult(totalLabel == 0 ? double.NaN : (double)intersect.Sum() / totalLabel, NanMean(iou), NanMean(acc), iou, acc,
                             (long[])intersect.Clone(), union, (long[])pred.Clone(), (long[])label.Clone());
    }

    static double NanMean(double[] v)
    {
        var kept = v.Where(x => !double.IsNaN(x)).ToList();
        return kept.Count == 0 ? double.NaN : kept.Average();
    }

    /// <summary>
    /// Evaluates a folder of prediction PNGs (class indices 0..K−1) against a folder of ground-truth PNGs, files matched
    /// by name. A prediction without its ground truth (or the reverse), a size mismatch or an unreadable PNG is an error
    /// naming the file.
    /// </summary>
    public static SegResult EvaluateFolders(string predDir, string gtDir, int numClasses, bool reduceZeroLabel, int ignoreIndex = 255)
    {
        foreach (var d in new[] { predDir, gtDir })
            if (!Directory.Exists(d)) throw new DirectoryNotFoundException($"{d}: folder not found");
        var preds = Directory.GetFiles(predDir, "*.png").ToDictionary(Path.GetFileNameWithoutExtension, p => p);
        var gts = Directory.GetFiles(gtDir, "*.png").ToDictionary(Path.GetFileNameWithoutExtension, p => p);
        if (gts.Count == 0) throw new InvalidDataException($"{gtDir}: no ground-truth PNG files");
        var missingPred = gts.Keys.Where(k => !preds.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (missingPred.Count > 0) throw new InvalidDataException($"{Path.Combine(predDir, missingPred[0] + ".png")}: no prediction for this ground truth " +
                                                                  $"({missingPred.Count} missing)");
        var extra = preds.Keys.Where(k => !gts.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (extra.Count > 0) throw new InvalidDataException($"{preds[extra[0]]}: prediction without a ground truth in {gtDir} ({extra.Count} such)");
        var metrics = new SegMetrics(numClasses, ignoreIndex, reduceZeroLabel);
        foreach (var key in gts.Keys.Order(StringComparer.Ordinal))
        {
            var gt = IndexedPng.Read(gts[key]);
            var pr = IndexedPng.Read(preds[key]);
            if (gt.Width != pr.Width || gt.Height != pr.Height)
                throw new InvalidDataException($"{preds[key]}: {pr.Width}×{pr.Height} pixels, its ground truth {gts[key]} {gt.Width}×{gt.Height}");
            metrics.Add(pr.Values, gt.Values, preds[key]);
        }
        return metrics.Result();
    }
}
