using ConvMAE.Data.Coco;

namespace ConvMAE.Evaluation;

public enum CocoIouType { Bbox, Segm }

/// <summary>
/// COCO detection AP/AR exactly as pycocotools' COCOeval (evaluate → accumulate → summarize) with default
/// parameters: 10 IoU thresholds .50:.05:.95, 101 recall points, areas all/small/medium/large, maxDets 1/10/100,
/// per-category averaging, -1 where undefined. Every tie-break and quirk is reproduced and named where it happens.
/// </summary>
public static class CocoEvaluator
{
    public static readonly string[] StatNames = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"];

    // np.linspace(start, stop, num): i * ((stop - start) / (num - 1)) + start, with the last set to stop exactly.
    static double[] Linspace(double start, double stop, int num)
    {
        double step = (stop - start) / (num - 1);
        var y = new double[num];
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[^1] = stop;
        return y;
    }

    public static readonly double[] IouThresholds = Linspace(.5, 0.95, 10);
    public static readonly double[] RecallThresholds = Linspace(0, 1, 101);
    static readonly int[] MaxDets = [1, 10, 100];
    static readonly (double Lo, double Hi)[] AreaRanges = [(0, 1e10), (0, 32 * 32), (32 * 32, 96 * 96), (96 * 96, 1e10)];

    /// <summary>The 12 COCOeval.stats numbers for the files, as the eval-coco command prints them.</summary>
    public static double[] EvaluateFiles(string gtPath, string resultsPath, CocoIouType type) =>
        Evaluate(CocoInstances.Load(gtPath), CocoInstances.LoadResults(resultsPath), type, resultsPath);

    /// <summary>A ground truth or detection prepared for matching: its region (a [x, y, w, h] box or an Rle) and
    /// the area used for the area ranges (the stored "area" for ground truth, loadRes' area for results).</summary>
    sealed record Region(CocoAnnotation Ann, object Shape, double Area);

    sealed record ImageEval(double[] Scores, double[,] Matches, bool[,] Ignore, int[] GtIgnore);

    public static double[] Evaluate(CocoInstances gt, IReadOnlyList<CocoAnnotation> results, CocoIouType type, string resultsName = "results")
    {
        // pycocotools' loadRes reads the first result to choose its branch and fails on an empty list; say so plainly.
        if (results.Count == 0) throw new CocoFormatException($"{resultsName}: no results to evaluate (pycocotools' loadRes fails on an empty list)");
        // COCO.createIndex: images and annotations are dicts keyed by id, so a repeated id keeps the last entry.
        var images = new Dictionary<long, CocoImage>();
        foreach (var im in gt.Images) images[im.Id] = im;
        var imgIds = images.Keys.Order().ToArray();
        var catIds = gt.Categories.Select(c => c.Id).Distinct().Order().ToArray();
        var catIndex = catIds.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);

        foreach (var r in results)
            if (!images.ContainsKey(r.ImageId))   // loadRes asserts this
                throw new CocoFormatException($"{resultsName}: result {r.Id - 1} is for image_id {r.ImageId}, which the ground truth does not have");

        var gts = GroupGroundTruth(gt, images, catIndex, type);
        var dts = GroupResults(results, images, catIndex, type);

        int T = IouThresholds.Length, K = catIds.Length, A = AreaRanges.Length, I = imgIds.Length;
        int maxDet = MaxDets[^1];
        // evaluate(): one ImageEval per (category, area, image), matched at maxDets[-1]; accumulate slices it per maxDet.
        var evals = new ImageEval?[K, A, I];
        for (int k = 0; k < K; k++)
            for (int i = 0; i < I; i++)
            {
                var g = gts.GetValueOrDefault((imgIds[i], k)) ?? [];
                var d = dts.GetValueOrDefault((imgIds[i], k)) ?? [];
                if (g.Count == 0 && d.Count == 0) continue;
                var sorted = SortByScore(d).Take(maxDet).ToList();
                var ious = ComputeIou(sorted, g);
                for (int a = 0; a < A; a++) evals[k, a, i] = EvaluateImage(g, sorted, ious, AreaRanges[a], maxDet);
            }

        var precision = new double[T, RecallThresholds.Length, K, A, MaxDets.Length];
        var recall = new double[T, K, A, MaxDets.Length];
        Fill(precision, -1); Fill(recall, -1);
        for (int k = 0; k < K; k++)
            for (int a = 0; a < A; a++)
                for (int m = 0; m < MaxDets.Length; m++)
                    Accumulate(Enumerable.Range(0, I).Select(i => evals[k, a, i]).OfType<ImageEval>().ToList(),
                               MaxDets[m], k, a, m, precision, recall);

        double Ap(double? iou, int area, int md) => Mean(precision, iou, area, Array.IndexOf(MaxDets, md), isPrecision: true);
        double Ar(double? iou, int area, int md) => Mean(recall, iou, area, Array.IndexOf(MaxDets, md), isPrecision: false);
        return [Ap(null, 0, 100), Ap(.5, 0, 100), Ap(.75, 0, 100), Ap(null, 1, 100), Ap(null, 2, 100), Ap(null, 3, 100),
                Ar(null, 0, 1), Ar(null, 0, 10), Ar(null, 0, 100), Ar(null, 1, 100), Ar(null, 2, 100), Ar(null, 3, 100)];
    }

    static Dictionary<(long, int), List<Region>> GroupGroundTruth(CocoInstances gt, Dictionary<long, CocoImage> images,
                                                              Dictionary<long, int> catIndex, CocoIouType type)
    {
        var byId = new Dictionary<long, CocoAnnotation>();
        foreach (var a in gt.Annotations) byId[a.Id] = a;
        var groups = new Dictionary<(long, int), List<Region>>();
        // getAnnIds walks imgToAnns (file order) and loadAnns looks each id up in the id dict.
        foreach (var listed in gt.Annotations)
        {
            if (!images.ContainsKey(listed.ImageId) || !catIndex.ContainsKey(listed.CategoryId)) continue;
            var a = byId[listed.Id];
            if (!images.TryGetValue(a.ImageId, out var im) || !catIndex.TryGetValue(a.CategoryId, out var k)) continue;
            string where = $"{gt.Path}: annotation id {a.Id}";
            double area = a.Area ?? throw new CocoFormatException($"{where} has no \"area\"");
            object region = type == CocoIouType.Bbox
                ? a.Bbox ?? throw new CocoFormatException($"{where} has no \"bbox\"")
                : CocoMasks.ToRle(a.Segmentation ?? throw new CocoFormatException($"{where} has no \"segmentation\""), im.Height, im.Width);
            var key = (a.ImageId, k);
            if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
            list.Add(new Region(a, region, area));
        }
        return groups;
    }

    static Dictionary<(long, int), List<Region>> GroupResults(IReadOnlyList<CocoAnnotation> results, Dictionary<long, CocoImage> images,
                                                          Dictionary<long, int> catIndex, CocoIouType type)
    {
        var groups = new Dictionary<(long, int), List<Region>>();
        if (results.Count == 0) return groups;
        // loadRes picks one branch from the FIRST result: if it has a non-empty bbox, every area is w*h (even for segm
        // evaluation, a known pycocotools quirk) and a missing segmentation becomes the box polygon; otherwise areas come
        // from the masks and a missing bbox from rleToBbox.
        bool boxBranch = results[0].Bbox is { Length: > 0 };
        foreach (var r in results)
        {
            if (!catIndex.TryGetValue(r.CategoryId, out var k)) continue;
            var im = images[r.ImageId];
            string where = $"result {r.Id - 1} (image_id {r.ImageId})";
            object region; double area;
            if (boxBranch)
            {
                var bb = r.Bbox is { Length: 4 } b ? b : throw new CocoFormatException($"{where} has no [x, y, w, h] bbox");
                area = bb[2] * bb[3];
                region = type == CocoIouType.Bbox ? bb
                    : CocoMasks.ToRle(r.Segmentation ?? new PolygonSegmentation([[bb[0], bb[1], bb[0], bb[1] + bb[3], bb[0] + bb[2], bb[1] + bb[3], bb[0] + bb[2], bb[1]]]),
                                      im.Height, im.Width);
            }
            else
            {
                var rle = CocoMasks.ToRle(r.Segmentation ?? throw new CocoFormatException($"{where} has neither bbox nor segmentation"), im.Height, im.Width);
                area = rle.Area();
                region = type == CocoIouType.Bbox ? r.Bbox is { Length: 4 } b ? b : rle.ToBbox() : rle;
            }
            var key = (r.ImageId, k);
            if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
            list.Add(new Region(r, region, area));
        }
        return groups;
    }

    // np.argsort(-score, kind='mergesort'): stable, so equal scores keep file order.
    static IEnumerable<Region> SortByScore(List<Region> d) => d.OrderBy(x => -x.Ann.Score);

    /// <summary>computeIoU: [dt sorted by score, gt in file order]; empty when either side is empty.</summary>
    static double[,] ComputeIou(List<Region> dt, List<Region> gt)
    {
        if (dt.Count == 0 || gt.Count == 0) return new double[0, 0];
        var crowd = gt.Select(g => g.Ann.IsCrowd).ToList();
        return dt[0].Shape is Rle
            ? Rle.Iou(dt.Select(d => (Rle)d.Shape).ToList(), gt.Select(g => (Rle)g.Shape).ToList(), crowd)
            : Rle.BoxIou(dt.Select(d => (double[])d.Shape).ToList(), gt.Select(g => (double[])g.Shape).ToList(), crowd);
    }

    /// <summary>evaluateImg: greedy matching in score order at each IoU threshold.</summary>
    static ImageEval EvaluateImage(List<Region> gtAll, List<Region> dtSorted, double[,] iousAll, (double Lo, double Hi) range, int maxDet)
    {
        // 'ignore' is iscrowd (COCOeval overwrites any stored ignore flag); out-of-range areas are ignored too.
        var gtIgnoreAll = gtAll.Select(g => g.Ann.IsCrowd || g.Area < range.Lo || g.Area > range.Hi ? 1 : 0).ToArray();
        var gtOrder = Enumerable.Range(0, gtAll.Count).OrderBy(i => gtIgnoreAll[i]).ToArray();   // stable: ignored last
        var gt = gtOrder.Select(i => gtAll[i]).ToArray();
        var gtIg = gtOrder.Select(i => gtIgnoreAll[i]).ToArray();
        var dt = dtSorted.Take(maxDet).ToArray();
        int T = IouThresholds.Length, G = gt.Length, D = dt.Length;
        var gtm = new double[T, G];
        var dtm = new double[T, D];
        var dtIg = new bool[T, D];
        if (iousAll.Length > 0)
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                {
                    double iou = Math.Min(IouThresholds[t], 1 - 1e-10);
                    int m = -1;
                    for (int g = 0; g < G; g++)
                    {
                        if (gtm[t, g] > 0 && !gt[g].Ann.IsCrowd) continue;       // matched already; crowds match many
                        if (m > -1 && gtIg[m] == 0 && gtIg[g] == 1) break;       // regular match found, only ignored left
                        double v = iousAll[d, gtOrder[g]];
                        if (v < iou) continue;                                   // ties go to the later gt
                        iou = v; m = g;
                    }
                    if (m == -1) continue;
                    dtIg[t, d] = gtIg[m] == 1;
                    // Ids, not flags, are stored: a gt with id 0 later counts as unmatched (pycocotools quirk).
                    dtm[t, d] = gt[m].Ann.Id;
                    gtm[t, m] = dt[d].Ann.Id;
                }
        for (int d = 0; d < D; d++)
        {
            bool outside = dt[d].Area < range.Lo || dt[d].Area > range.Hi;
            for (int t = 0; t < T; t++) dtIg[t, d] |= dtm[t, d] == 0 && outside;
        }
        return new ImageEval(dt.Select(x => x.Ann.Score).ToArray(), dtm, dtIg, gtIg);
    }

    /// <summary>accumulate() for one (category, area, maxDet): precision at the 101 recall points and final recall.</summary>
    static void Accumulate(List<ImageEval> E, int maxDet, int k, int a, int m, double[,,,,] precision, double[,,,] recall)
    {
        if (E.Count == 0) return;
        var entries = E.SelectMany(e => Enumerable.Range(0, Math.Min(maxDet, e.Scores.Length)).Select(d => (e, d))).ToList();
        var order = Enumerable.Range(0, entries.Count).OrderBy(i => -entries[i].e.Scores[entries[i].d]).ToArray();   // stable
        int npig = E.Sum(e => e.GtIgnore.Count(x => x == 0));
        if (npig == 0) return;
        int T = IouThresholds.Length, R = RecallThresholds.Length, nd = order.Length;
        var rc = new double[nd];
        var pr = new double[nd];
        for (int t = 0; t < T; t++)
        {
            double tp = 0, fp = 0;
            for (int j = 0; j < nd; j++)
            {
                var (e, d) = entries[order[j]];
                bool ignored = e.Ignore[t, d];
                if (!ignored) { if (e.Matches[t, d] != 0) tp++; else fp++; }
                rc[j] = tp / npig;
                pr[j] = tp / (fp + tp + NpSpacing1);
            }
            recall[t, k, a, m] = nd > 0 ? rc[nd - 1] : 0;
            for (int i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
            // np.searchsorted(rc, recThrs, 'left'); an index past the end stops filling (the try/except), leaving 0s.
            for (int r = 0; r < R; r++)
            {
                int pi = LowerBound(rc, nd, RecallThresholds[r]);
                if (pi >= nd) { for (; r < R; r++) precision[t, r, k, a, m] = 0; break; }
                precision[t, r, k, a, m] = pr[pi];
            }
        }
    }

    const double NpSpacing1 = 2.220446049250313e-16;   // np.spacing(1)

    static int LowerBound(double[] sorted, int n, double value)
    {
        int lo = 0, hi = n;
        while (lo < hi) { int mid = (lo + hi) >>> 1; if (sorted[mid] < value) lo = mid + 1; else hi = mid; }
        return lo;
    }

    /// <summary>summarize(): the mean of the entries above -1 at the chosen threshold/area/maxDet, or -1 if none.</summary>
    static double Mean(Array values, double? iouThr, int area, int maxDetIndex, bool isPrecision)
    {
        double sum = 0; long n = 0;
        for (int t = 0; t < IouThresholds.Length; t++)
        {
            if (iouThr is { } thr && IouThresholds[t] != thr) continue;   // np.where(iouThr == p.iouThrs): exact float equality
            if (isPrecision)
            {
                var p = (double[,,,,])values;
                for (int r = 0; r < p.GetLength(1); r++)
                    for (int k = 0; k < p.GetLength(2); k++)
                        if (p[t, r, k, area, maxDetIndex] > -1) { sum += p[t, r, k, area, maxDetIndex]; n++; }
            }
            else
            {
                var rc = (double[,,,])values;
                for (int k = 0; k < rc.GetLength(1); k++)
                    if (rc[t, k, area, maxDetIndex] > -1) { sum += rc[t, k, area, maxDetIndex]; n++; }
            }
        }
        return n == 0 ? -1 : sum / n;
    }

    static void Fill(Array a, double v) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(
            ref System.Runtime.CompilerServices.Unsafe.As<byte, double>(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(a)),
            a.Length).Fill(v);
}
