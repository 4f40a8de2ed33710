using ConvMAE.Data;
using ConvMAE.Data.Video;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>Top-1/top-5 over videos after averaging the views' scores, the per-class accuracy and the predictions.</summary>
public sealed record VideoEvalResult(double Acc1, double Acc5, int Videos, int Views, double Loss, long[] Labels, long[] Predictions,
                                     IReadOnlyList<string> Classes)
{
    public IReadOnlyDictionary<string, double> Metrics => new Dictionary<string, double>
    {
        ["acc1"] = Acc1, ["acc5"] = Acc5, ["loss"] = Loss,
    };

    /// <summary>Accuracy (%) of each class over its videos (NaN for a class with none).</summary>
    public double[] PerClassAccuracy()
    {
        var acc = new double[Classes.Count];
        for (int k = 0; k < acc.Length; k++)
        {
            int n = 0, ok = 0;
            for (int i = 0; i < Labels.Length; i++)
                if (Labels[i] == k) { n++; if (Predictions[i] == k) ok++; }
            acc[k] = n == 0 ? double.NaN : 100.0 * ok / n;
        }
        return acc;
    }
}

/// <summary>
/// Multi-view testing as VideoMAE's final_test + merge: every view of a video is classified, the views' SOFTMAX scores
/// are averaged, and top-1/top-5 are taken over videos (Kinetics: 5 clips × 3 crops; SSv2: 2 × 3). With one view
/// this is the per-epoch validation. The loss is the cross-entropy of the averaged scores.
/// </summary>
public static class VideoEvaluation
{
    public static VideoEvalResult Evaluate(nn.Module<Tensor, Tensor> model, IBatchLoader<VideoHostBatch> loader, IReadOnlyList<string> classes,
                                           Action<int, int>? progress = null)
    {
        bool wasTraining = model.training;
        model.eval();
        var labels = new List<long>();
        var predictions = new List<long>();
        long top1 = 0, top5 = 0;
        double lossSum = 0;
        int views = 1, done = 0;
        var device = model.parameters().First().device;
        try
        {
            foreach (var host in loader.Epoch(0))
            {
                using (NativeCallGuard.Enter())
                using (NewDisposeScope())
                using (no_grad())
                {
                    var batch = VideoBatch.FromHost(host, device);
                    views = host.Views;
                    var logits = model.call(batch.Clips).to(float32);                             // [B·V,K]
                    var scores = logits.softmax(-1).view(host.Count, host.Views, -1).mean([1]);    // [B,K]
                    lossSum += nn.functional.nll_loss(scores.clamp_min(1e-12).log(), batch.Labels, reduction: nn.Reduction.Sum).item<float>();
                    var correct = Evaluation.Accuracy.TopKCorrect(scores, batch.Labels, 1, 5);
                    top1 += correct[0];
                    top5 += correct[1];
                    labels.AddRange(batch.Labels.data<long>().ToArray());
                    predictions.AddRange(scores.argmax(1).data<long>().ToArray());
                }
                done++;
                progress?.Invoke(done, loader.BatchesPerEpoch);
            }
        }
        finally { model.train(wasTraining); }
        int n = labels.Count;
        return new VideoEvalResult(n == 0 ? double.NaN : 100.0 * top1 / n, n == 0 ? double.NaN : 100.0 * top5 / n, n, views,
                                   n == 0 ? double.NaN : lossSum / n, labels.ToArray(), predictions.ToArray(), classes);
    }
}
