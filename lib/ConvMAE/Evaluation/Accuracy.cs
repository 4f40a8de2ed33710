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

    public static EvalResult Evaluate(nn.Module<Tensor, Tensor> model, ImageLoader loader, int epoch = 0) =>
        EvaluateHeads(model, loader, 1, epoch)[0];

    /// <summary>
    /// <see cref="Evaluate"/> for a model whose output holds <paramref name="heads"/> classifiers side by side
    /// ([B, heads·C], as <see cref="Modeling.ProbeHeads"/>): one result per head, from one pass over the data.
    /// </summary>
    public static EvalResult[] EvaluateHeads(nn.Module<Tensor, Tensor> model, ImageLoader loader, int heads, int epoch = 0)
    {
        model.eval();
        var device = model.parameters().FirstOrDefault()?.device ?? CPU;
        var lossSum = new double[heads];
        var top1 = new long[heads];
        var top5 = new long[heads];
        int n = 0;
        var labels = new List<long>();
        var predictions = Enumerable.Range(0, heads).Select(_ => new List<long>()).ToArray();
        using (no_grad())
        {
            foreach (var host in loader.Epoch(epoch))
            {
                using var guard = NativeCallGuard.Enter();   // see NativeCallGuard: no GC while libtorch runs
                using var scope = NewDisposeScope();
                using var batch = Batch.FromHost(host, device);
                var all = model.forward(batch.Images);
                long classes = all.shape[1] / heads;
                for (int k = 0; k < heads; k++)
                {
                    var logits = all.narrow(1, k * classes, classes);
                    lossSum[k] += nn.functional.cross_entropy(logits, batch.Labels).item<float>() * batch.Count;
                    var correct = TopKCorrect(logits, batch.Labels, 1, 5);
                    top1[k] += correct[0];
                    top5[k] += correct[1];
                    predictions[k].AddRange(logits.argmax(1).data<long>().ToArray());
                }
                n += batch.Count;
                labels.AddRange(host.Labels);
            }
        }
        if (n == 0) throw new InvalidOperationException($"{loader.Data.Root}: nothing to evaluate");
        var labelArray = labels.ToArray();
        return Enumerable.Range(0, heads)
            .Select(k => new EvalResult(lossSum[k] / n, 100.0 * top1[k] / n, 100.0 * top5[k] / n, n, labelArray, predictions[k].ToArray()))
            .ToArray();
    }
}
