using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// A learning-rate sweep of linear probes trained in one pass (the kit's <c>--blr_sweep</c>): K official probe heads
/// (<c>BatchNorm1d(affine=False)</c> → <c>Linear</c>), all started from the same weights, on the same frozen features.
/// The heads share nothing but their input, so with a per-head learning rate each one follows exactly the run a
/// separate probe at that rate would (same data order, same augmentation, same start), for the cost of one encoder
/// pass. Output: the K heads' logits side by side, [N, K·classes]; <see cref="Head"/> reads one of them.
/// State keys: <c>heads.k.0.*</c> (BatchNorm statistics), <c>heads.k.1.weight/bias</c>.
/// </summary>
public sealed class ProbeHeads : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "heads")] public readonly ModuleList<Sequential> Heads;
    public int Classes { get; }
    public int Count => Heads.Count;

    /// <param name="template">The probe's linear layer: every head starts as a copy of it.</param>
    public ProbeHeads(Linear template, int count, double bnEps = 1e-6) : base(nameof(ProbeHeads))
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "a probe sweep needs at least one head");
        long features = template.weight!.shape[1];
        Classes = (int)template.weight.shape[0];
        Heads = nn.ModuleList(Enumerable.Range(0, count).Select(_ =>
        {
            var linear = nn.Linear(features, Classes);
            using (no_grad())
            {
                linear.weight!.copy_(template.weight);
                linear.bias!.copy_(template.bias!);
            }
            return nn.Sequential(("0", nn.BatchNorm1d(features, eps: bnEps, affine: false)), ("1", (nn.Module<Tensor, Tensor>)linear));
        }).ToArray());
        RegisterComponents();
    }

    /// <summary>[N,E] features → [N, K·classes]: head k's logits in columns k·classes … (k+1)·classes − 1.</summary>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        return cat(Heads.Select(h => h.call(features)).ToArray(), 1).MoveToOuterDisposeScope();
    }

    /// <summary>Head k's logits [N,classes] out of the side-by-side output [N, K·classes] (a view).</summary>
    public static Tensor Head(Tensor logits, int k, int classes) => logits.narrow(1, (long)k * classes, classes);

    /// <summary>The sum of the heads' cross-entropies: each head's gradient is that of its own loss alone.</summary>
    public static Tensor SummedCrossEntropy(Tensor logits, Tensor labels, int count, int classes)
    {
        using var scope = NewDisposeScope();
        var total = nn.functional.cross_entropy(Head(logits, 0, classes), labels);
        for (int k = 1; k < count; k++) total = total + nn.functional.cross_entropy(Head(logits, k, classes), labels);
        return total.MoveToOuterDisposeScope();
    }
}
