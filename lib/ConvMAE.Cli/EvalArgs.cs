using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using ConvMAE.Evaluation;

namespace ConvMAE.Cli;

/// <summary>eval-seg's flags: prediction and ground-truth PNG folders, matched by file name.</summary>
public sealed record EvalSegArgs
{
    [JsonPropertyName("pred"), Description("folder of prediction PNGs (class indices 0..N-1)")] public string Pred { get; init; } = "";
    [JsonPropertyName("gt"), Description("folder of ground-truth PNGs in the dataset's own convention")] public string Gt { get; init; } = "";
    [JsonPropertyName("num_classes")] public int NumClasses { get; init; }
    [JsonPropertyName("reduce_zero_label"), Description("ground truth 0 = ignore, k = class k-1 (ADE20K)")] public bool ReduceZeroLabel { get; init; }
    [JsonPropertyName("ignore_index")] public int IgnoreIndex { get; init; } = 255;

    /// <summary>Runs the metric and returns the one JSON line eval-seg prints (fractions, null for NaN).</summary>
    public string Run()
    {
        if (Pred.Length == 0 || Gt.Length == 0) throw new ArgumentException("eval-seg needs --pred DIR and --gt DIR");
        if (NumClasses <= 0) throw new ArgumentException("eval-seg needs --num_classes N");
        var r = SegMetrics.EvaluateFolders(Pred, Gt, NumClasses, ReduceZeroLabel, IgnoreIndex);
        return Json(r);
    }

    public static string Json(SegResult r)
    {
        static object? N(double v) => double.IsNaN(v) ? null : v;
        return JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["aAcc"] = N(r.AAcc), ["mIoU"] = N(r.MIoU), ["mAcc"] = N(r.MAcc),
            ["IoU"] = r.IoU.Select(N).ToArray(), ["Acc"] = r.Acc.Select(N).ToArray(),
        });
    }
}

/// <summary>eval-coco's flags: a COCO instances file, a results file in the official format, and the IoU type.</summary>
public sealed record EvalCocoArgs
{
    [JsonPropertyName("gt"), Description("COCO instances JSON (ground truth)")] public string Gt { get; init; } = "";
    [JsonPropertyName("dt"), Description("results JSON: [{image_id, category_id, bbox | segmentation, score}, ...]")] public string Dt { get; init; } = "";
    [JsonPropertyName("iou_type"), Description("bbox or segm")] public string IouType { get; init; } = "bbox";

    /// <summary>Runs COCOeval and returns the one JSON line eval-coco prints: {"stats": [12 numbers]}.</summary>
    public string Run()
    {
        if (Gt.Length == 0 || Dt.Length == 0) throw new ArgumentException("eval-coco needs --gt ANN.json and --dt RESULTS.json");
        var type = IouType switch
        {
            "bbox" => CocoIouType.Bbox,
            "segm" => CocoIouType.Segm,
            _ => throw new ArgumentException($"--iou-type must be bbox or segm, not '{IouType}'"),
        };
        return JsonSerializer.Serialize(new Dictionary<string, double[]> { ["stats"] = CocoEvaluator.EvaluateFiles(Gt, Dt, type) });
    }
}
