using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Benchmarks;

/// <summary>
/// Times one part of a model at a time for the bench's <c>--profile</c> (<see cref="PretrainProfile"/>,
/// <see cref="FinetuneProfile"/>): the part runs repetitions + 1 times (the first untimed) on a leaf copy of its input
/// that requires grad (the images excepted: they need none, as in the step), forward then backward from a random
/// gradient of its output's shape, so a part's backward includes its input gradient, as in the whole step.
/// </summary>
public sealed class PartProfiler(nn.Module model, Tensor images, int repetitions, Action<string>? progress)
{
    readonly List<PartTime> rows = [];

    /// <summary>The parts timed so far, in order.</summary>
    public IReadOnlyList<PartTime> Rows => rows;

    /// <summary>Times <paramref name="f"/> on <paramref name="input"/>; returns its last output, detached, for the next part.</summary>
    public Tensor Time(string name, Tensor input, Func<Tensor, Tensor> f)
    {
        if (repetitions < 1) throw new ArgumentException("repetitions must be at least 1");
        var fwd = new List<double>(); var bwd = new List<double>();
        Tensor? last = null;
        for (int rep = 0; rep <= repetitions; rep++)
        {
            using var guard = NativeCallGuard.Enter();   // no collection while libtorch holds temporary Scalars
            using var inner = NewDisposeScope();
            var x = input.detach().requires_grad_(!ReferenceEquals(input, images));
            var clock = Stopwatch.StartNew();
            var y = f(x);
            double tf = clock.Elapsed.TotalMilliseconds;
            var grad = randn_like(y);
            clock.Restart();
            autograd.backward([y], [grad]);
            double tb = clock.Elapsed.TotalMilliseconds;
            if (rep > 0) { fwd.Add(tf); bwd.Add(tb); }
            model.zero_grad();
            if (rep == repetitions) last = y.detach().MoveToOuterDisposeScope();
        }
        var part = new PartTime(name, Math.Round(StepTimes.Of(fwd).Median, 1), Math.Round(StepTimes.Of(bwd).Median, 1));
        rows.Add(part);
        progress?.Invoke($"profile {name}: forward {part.FwdMs:F0} ms, backward {part.BwdMs:F0} ms");
        return last!;
    }
}
