using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace ConvMAE.Training;

/// <summary>
/// LARS as the official util/lars.py (used for linear probing): for parameters with more than one dimension the
/// gradient gets weight decay and is scaled by trust_coefficient × ‖p‖ / ‖dp‖ (1 when either norm is 0); 1-D
/// parameters get neither. Then heavy-ball momentum: mu = momentum × mu + dp; p −= lr × mu.
/// </summary>
public sealed class Lars(IReadOnlyList<Parameter> parameters, double lr, double weightDecay = 0, double momentum = 0.9,
                         double trustCoefficient = 0.001) : IDisposable
{
    readonly Tensor?[] mu = new Tensor?[parameters.Count];

    public double LearningRate { get; set; } = lr;
    public double WeightDecay => weightDecay;
    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>Momentum buffers (null before a parameter's first step), for checkpoints.</summary>
    public IReadOnlyList<Tensor?> MomentumBuffers => mu;

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
            p.add_(mu[i]!, alpha: -LearningRate);
        }
    }

    public void ZeroGrad()
    {
        foreach (var p in parameters) p.grad?.zero_();
    }

    public void LoadMomentum(IReadOnlyList<Tensor?> buffers)
    {
        if (buffers.Count != mu.Length) throw new ArgumentException($"LARS state has {buffers.Count} buffers, optimizer has {mu.Length} parameters");
        for (int i = 0; i < mu.Length; i++)
        {
            mu[i]?.Dispose();
            mu[i] = buffers[i]?.detach().clone();
        }
    }

    public void Dispose()
    {
        foreach (var t in mu) t?.Dispose();
    }
}
