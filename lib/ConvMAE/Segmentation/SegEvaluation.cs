using ConvMAE.Data;
using ConvMAE.Data.Segmentation;
using ConvMAE.Evaluation;
using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>
/// Validation as mmseg runs it: each image through the test pipeline (keep-ratio resize to img_scale), slide or whole
/// inference, the logits resized back to the original image (bilinear, align_corners False), argmax, and the IoU
/// metric against the original annotation (reduce_zero_label applied). Unreadable samples are skipped with a warning
/// naming the file unless strict.
/// </summary>
public static class SegEvaluation
{
    public sealed record Prediction(string Name, int Width, int Height, byte[] Classes);

    public static SegResult Evaluate(UperNetSegmenter model, Ade20kDataset data, SegPipeline pipeline, bool strict = false, int limit = 0,
                                     Action<string>? warning = null, Action<Prediction>? onPrediction = null, Action<int, int>? progress = null)
    {
        var c = model.Config;
        var metrics = new SegMetrics(c.NumClasses);                 // labels arrive already reduced by the pipeline
        bool wasTraining = model.training;
        model.eval();
        var device = model.parameters().First().device;
        int n = limit > 0 ? Math.Min(limit, data.Count) : data.Count;
        using (no_grad())
            for (int i = 0; i < n; i++)
            {
                SegImage s;
                try { s = data.Load(i); }
                catch (BadSampleException e) when (!strict) { warning?.Invoke($"skipped {e.Message}"); continue; }
                var (resized, labels) = pipeline.Test(s);
                using var guard = NativeCallGuard.Enter();
                using var scope = NewDisposeScope();
                var classes = Predict(model, resized, s.Image.Width, s.Image.Height, device);
                metrics.Add(classes, labels, s.Name);
                onPrediction?.Invoke(new Prediction(s.Name, s.Image.Width, s.Image.Height, classes));
                progress?.Invoke(i + 1, n);
            }
        model.train(wasTraining);
        return metrics.Result();
    }

    /// <summary>Class per pixel of the original image (row-major) for a test-pipeline sample.</summary>
    public static byte[] Predict(UperNetSegmenter model, SegSample resized, int originalWidth, int originalHeight, Device device)
    {
        var c = model.Config;
        using var guard = NativeCallGuard.Enter();   // Evaluate holds one already; notebooks call this directly
        using var scope = NewDisposeScope();
        using var bytes = tensor(resized.Pixels, [1, resized.Height, resized.Width, 3], dtype: ScalarType.Byte);
        var images = ImageNetStats.Normalize(bytes).to(device);
        Func<Tensor, Tensor> encodeDecode = x => model.call(x);
        var logits = c.TestMode switch
        {
            "slide" => SlidingWindow.Slide(images, encodeDecode, c.NumClasses, c.CropSize, c.Stride),
            "whole" => SlidingWindow.Whole(images, encodeDecode),
            _ => throw new ArgumentException($"test_mode {c.TestMode}: expected slide or whole"),
        };
        logits = DecodeHead.Resize(logits, originalHeight, originalWidth);
        return logits.argmax(1).to(ScalarType.Byte).cpu().data<byte>().ToArray();
    }
}
