using ConvMAE.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Evaluation;

/// <summary>Evaluation of a classifier as the official engine_finetune.evaluate: cross-entropy loss and top-1/top-5
/// accuracy (percent) over the whole loader; also the predictions, for confusion matrices.</summary>
public sealed record EvalResult(double Loss, double Acc1, double Acc5, int Count, long[] Labels, long[] Predictions)
{
    public IReadOnlyDictionary<string, double> Metrics => new Dictionary<string, double>
    {
        ["loss"] = Loss, ["acc1"] = Acc1, ["acc5"] = Acc5,
    };

    /// <summary>counts[true, predicted].</summary>
    public long[,] Confusion(int numClasses)
    {
        var m = new long[numClasses, numClasses];
        for (int i = 0; i < Labels.Length; i++) m[Labels[i], Predictions[i]]++;
        return m;
    }
}

public static class Accuracy
{
    /// <summary>Top-k correct counts of logits [B,C] against labels [B], for each k (k capped at C).</summary>
    public static long[] TopKCorrect(Tensor logits, Tensor labels, params int[] ks)
    {
        using var scope = NewDisposeScope();
        int maxK = Math.Min(ks.Max(), (int)logits.shape[1]);
        var top = logits.topk(maxK, dim: 1).indexes;                    // [B,maxK]
        var hit = top.eq(labels.view(-1, 1));                           // [B,maxK]
        return ks.Select(k => hit[.., ..Math.Min(k, maxK)].any(1).sum().item<long>()).ToArray();
    }

    public static EvalResult Evaluate(nn.Module<Tensor, Tensor> model, ImageLoader loader, int epoch = 0)
    {
        model.eval();
        var device = model.parameters().FirstOrDefault()?.device ?? CPU;
        double lossSum = 0;
        long top1 = 0, top5 = 0;
        int n = 0;
        var labels = new List<long>();
        var predictions = new List<long>();
        using (no_grad())
        {
            foreach (var host in loader.Epoch(epoch))
            {
                using var guard = NativeCallGuard.Enter();   // see NativeCallGuard: no GC while libtorch runs
                using var scope = NewDisposeScope();
                using var batch = Batch.FromHost(host, device);
                var logits = model.forward(batch.Images);
                lossSum += nn.functional.cross_entropy(logits, batch.Labels).item<float>() * batch.Count;
                var correct = TopKCorrect(logits, batch.Labels, 1, 5);
                top1 += correct[0];
                top5 += correct[1];
                n += batch.Count;
                labels.AddRange(host.Labels);
                predictions.AddRange(logits.argmax(1).data<long>().ToArray());
            }
        }
        if (n == 0) throw new InvalidOperationException($"{loader.Data.Root}: nothing to evaluate");
        return new EvalResult(lossSum / n, 100.0 * top1 / n, 100.0 * top5 / n, n, labels.ToArray(), predictions.ToArray());
    }
}
