using TorchSharp;
using ConvMAE.Interop;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace ConvMAE.Training;

/// <summary>
/// LARS as the official util/lars.py (used for linear probing): for parameters with more than one dimension the
/// gradient gets weight decay and is scaled by trust_coefficient × ‖p‖ / ‖dp‖ (1 when either norm is 0); 1-D
/// parameters get neither. Then heavy-ball momentum: mu = momentum × mu + dp; p −= lr × mu.
/// </summary>
public sealed class Lars(IReadOnlyList<Parameter> parameters, double lr, double weightDecay = 0, double momentum = 0.9,
                         double trustCoefficient = 0.001, IReadOnlyList<double>? lrScales = null) : IOptimizer
{
    // Per-parameter multipliers of the learning rate (a probe sweep's heads); the momentum buffer does not depend on
    // the rate, so a scaled parameter follows exactly the run an optimizer at that rate would.
    readonly IReadOnlyList<double> scales = lrScales is null ? Enumerable.Repeat(1.0, parameters.Count).ToArray()
        : lrScales.Count == parameters.Count ? lrScales
        : throw new ArgumentException($"lrScales: {lrScales.Count} values for {parameters.Count} parameters", nameof(lrScales));
    readonly Tensor?[] mu = new Tensor?[parameters.Count];

    public double LearningRate { get; private set; } = lr;
    public IEnumerable<Parameter> Parameters => parameters;
    public void SetLearningRate(double lr) => LearningRate = lr;

    public void Step()
    {
        using var _ = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (p.grad is null) continue;
            using var scope = NewDisposeScope();
            var dp = p.grad;
            if (p.dim() > 1)
            {
                dp = dp.add(p, alpha: weightDecay);
                var paramNorm = p.norm();
                var updateNorm = dp.norm();
                var one = ones_like(paramNorm);
                var q = where(paramNorm > 0, where(updateNorm > 0, trustCoefficient * paramNorm / updateNorm, one), one);
                dp = dp.mul(q);
            }
            if (mu[i] is null) mu[i] = zeros_like(p).DetachFromDisposeScope();   // lives across steps
            mu[i]!.mul_(momentum).add_(dp);
            p.add_(mu[i]!, alpha: -LearningRate * scales[i]);
        }
    }

    public void ZeroGrad()
    {
        foreach (var p in parameters) p.grad?.zero_();
    }

    public PyDict StateDict()
    {
        var state = new PyDict();
        for (int i = 0; i < mu.Length; i++)
            if (mu[i] is not null) state[(long)i] = new PyDict { ["mu"] = mu[i] };
        var result = OptimizerState.Groups([(Enumerable.Range(0, parameters.Count).ToList(), new PyDict
        {
            ["lr"] = LearningRate, ["weight_decay"] = weightDecay, ["momentum"] = momentum, ["trust_coefficient"] = trustCoefficient,
        })]);
        result.Insert(0, "state", state);
        return result;
    }

    public void LoadStateDict(PyDict state)
    {
        var perParam = (PyDict)state["state"]!;
        for (int i = 0; i < mu.Length; i++)
        {
            mu[i]?.Dispose();
            mu[i] = perParam.ContainsKey((long)i)
                ? OptimizerState.TensorAt(state, i, "mu").to(parameters[i].dtype, parameters[i].device).clone().DetachFromDisposeScope()
                : null;
        }
    }

    public void Dispose()
    {
        foreach (var t in mu) t?.Dispose();
    }
}
