using System.Globalization;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// The core of one training step, shared by <see cref="Trainer{THost}"/> and the bench (so the bench times exactly
/// the trainer's code): the task's named losses, their sum, the non-finite guard (before anything is applied),
/// backward (scaled for accumulation), the task's after-backward work, and, on an update step, clipping, the
/// optimizer step and zeroing the gradients. Runs in the caller's dispose scope and GC guard.
/// </summary>
public static class TrainStep
{
    /// <summary>Returns the loss values by name; "loss" is the sum that was back-propagated.</summary>
    public static IReadOnlyDictionary<string, double> Run<THost>(ITrainingTask<THost> task, IOptimizer optimizer, THost batch,
        Device device, Random rng, int accumIter, bool update, double? clipGrad, Func<string, string> nonFiniteMessage)
        where THost : IHostBatch
    {
        var losses = task.Losses(batch, device, rng);
        if (losses.Count == 0) throw new InvalidOperationException($"the {task.Kind} task returned no losses");
        // A single loss is back-propagated as it is (bit-identical to a loop without names); several are summed.
        var total = losses.Count == 1 ? losses.Values.First() : losses.Values.Aggregate((a, b) => a + b);
        var values = new Dictionary<string, double>();
        if (losses.Count > 1 || !losses.ContainsKey(LossNames.Total))
            foreach (var (name, t) in losses) values[name] = t.item<float>();
        double sum = total.item<float>();
        values[LossNames.Total] = sum;
        if (!double.IsFinite(sum))
        {
            var parts = values.Count > 1 ? " (" + string.Join(", ", values.Where(kv => kv.Key != LossNames.Total)
                                                                  .Select(kv => $"{kv.Key} {Format(kv.Value)}")) + ")" : "";
            throw new NonFiniteLossException(nonFiniteMessage(Format(sum) + parts));
        }
        (accumIter > 1 ? total / accumIter : total).backward();
        task.AfterBackward();
        if (update)
        {
            if (clipGrad is { } clip) nn.utils.clip_grad_norm_(optimizer.Parameters, clip);
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        return values;
    }

    static string Format(double v) => v.ToString(CultureInfo.InvariantCulture) switch { "∞" => "∞", var s => s };
}
