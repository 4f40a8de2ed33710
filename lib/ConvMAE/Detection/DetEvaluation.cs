using System.Text.Json.Nodes;
using ConvMAE.Data;
using ConvMAE.Data.Coco;
using ConvMAE.Evaluation;
using ConvMAE.Interop;
using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>The 12 COCOeval numbers for boxes and masks (fractions; −1 where undefined), and the detections they scored.</summary>
public sealed record DetResult(double[] Bbox, double[] Segm, IReadOnlyList<CocoAnnotation> Detections, int Images)
{
    public double BoxAP => Bbox[0];
    public double MaskAP => Segm[0];
}

/// <summary>
/// Inference over a COCO dataset as detectron2's inference_on_dataset + COCOEvaluator: the test transform, the
/// detector, the LSJ post-processing, results in the official format (category ids mapped back, boxes x,y,w,h,
/// masks as compressed RLE), then COCOeval on the annotation file itself for bbox and segm.
/// </summary>
public static class DetEvaluation
{
    public static DetResult Evaluate(MaskRcnn model, CocoDetectionDataset data, DetPipeline pipeline, int limit = 0, bool strict = false,
                                     Action<string>? warning = null, Action<int, int>? progress = null, int batchSize = 2)
    {
        int n = limit > 0 ? Math.Min(limit, data.Count) : data.Count;
        var detections = new List<CocoAnnotation>();
        var evaluated = new List<CocoImage>();
        var device = model.parameters().First().device;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            for (int start = 0; start < n; start += batchSize)
            {
                var samples = new List<DetSample>();
                for (int i = start; i < Math.Min(n, start + batchSize); i++)
                {
                    try { samples.Add(pipeline.Test(data.Load(i))); evaluated.Add(data.Images[i]); }
                    catch (BadSampleException e) when (!strict) { warning?.Invoke($"evaluation: {e.Message}; skipped"); }
                }
                if (samples.Count > 0)
                    using (NativeCallGuard.Enter())
                    using (NewDisposeScope())
                    {
                        var batch = new DetHostBatch(0, start / batchSize, samples);
                        var dets = model.Detect(batch.Images(device));
                        for (int i = 0; i < samples.Count; i++)
                            detections.AddRange(ToResults(model.Postprocess(dets[i], samples[i].Height, samples[i].Width), samples[i].ImageId, data.CategoryIds));
                    }
                progress?.Invoke(Math.Min(n, start + batchSize), n);
            }
        }
        finally { if (wasTraining) model.train(); }
        var gt = Restrict(data.Instances, evaluated);
        if (detections.Count == 0)
        {
            // detectron2's COCOEvaluator: "No predictions from the model!" and NaN for every metric.
            warning?.Invoke($"evaluation: no detections on {evaluated.Count} images (every score below {model.Config.TestScoreThresh}); AP is undefined");
            var none = Enumerable.Repeat(double.NaN, 12).ToArray();
            return new DetResult(none, none, detections, evaluated.Count);
        }
        // As detectron2's _evaluate_predictions_on_coco: mask AP is computed on results without their "bbox", or
        // pycocotools' loadRes would take the box area as each result's area (and sort them into the wrong size range).
        var masksOnly = detections.Select(d => d with { Bbox = null }).ToList();
        return new DetResult(CocoEvaluator.Evaluate(gt, detections, CocoIouType.Bbox), CocoEvaluator.Evaluate(gt, masksOnly, CocoIouType.Segm),
                             detections, evaluated.Count);
    }

    /// <summary>detectron2's instances_to_coco_json for one image.</summary>
    public static IEnumerable<CocoAnnotation> ToResults(ImagePrediction p, long imageId, IReadOnlyList<long> categoryIds)
    {
        for (int i = 0; i < p.Scores.Length; i++)
        {
            var b = p.Boxes[i];
            var m = p.Masks[i];
            yield return new CocoAnnotation
            {
                ImageId = imageId, CategoryId = categoryIds[p.Classes[i]], Bbox = [b[0], b[1], b[2] - b[0], b[3] - b[1]], Score = p.Scores[i],
                Segmentation = new RleSegmentation(m.Height, m.Width, m.Counts, m.ToCompressedString()),
            };
        }
    }

    /// <summary>The ground truth of the images that were evaluated (COCOeval's params.imgIds).</summary>
    static CocoInstances Restrict(CocoInstances gt, List<CocoImage> images)
    {
        if (images.Count == gt.Images.Count) return gt;
        var ids = images.Select(i => i.Id).ToHashSet();
        return gt with { Images = images, Annotations = gt.Annotations.Where(a => ids.Contains(a.ImageId)).ToList() };
    }

    /// <summary>Writes results in the official format (coco_instances_results.json): image_id, category_id, bbox
    /// [x, y, w, h], score, segmentation {size: [h, w], counts: compressed string}. Written atomically.</summary>
    public static void WriteResults(string path, IEnumerable<CocoAnnotation> detections)
    {
        var array = new JsonArray();
        foreach (var d in detections)
        {
            var o = new JsonObject
            {
                ["image_id"] = d.ImageId, ["category_id"] = d.CategoryId,
                ["bbox"] = new JsonArray(d.Bbox!.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()), ["score"] = d.Score,
            };
            if (d.Segmentation is RleSegmentation r)
                o["segmentation"] = new JsonObject { ["size"] = new JsonArray(r.Height, r.Width), ["counts"] = r.Compressed ?? r.ToRle().ToCompressedString() };
            array.Add(o);
        }
        var bytes = System.Text.Encoding.UTF8.GetBytes(array.ToJsonString());
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
