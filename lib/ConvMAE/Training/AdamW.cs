using ConvMAE.Interop;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace ConvMAE.Training;

/// <summary>
/// AdamW exactly as torch.optim.AdamW (decoupled weight decay p ← p·(1 − lr·wd), bias-corrected moments,
/// denominator √v̂ + eps), over the official parameter groups with their lr_scale. Written here rather than taken
/// from TorchSharp so that its state round-trips through checkpoints in PyTorch's layout (exact resume) and the
/// per-group scale is applied the way util/lr_sched does.
/// </summary>
public sealed class AdamW : IOptimizer
{
    readonly List<ParamGroup> groups;
    readonly (Parameter P, int Group)[] flat;
    readonly Tensor?[] expAvg, expAvgSq;
    readonly long[] steps;
    readonly double beta1, beta2, eps;

    public double LearningRate { get; private set; }

    public AdamW(IEnumerable<ParamGroup> paramGroups, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        groups = paramGroups.Where(g => g.Params.Count > 0).ToList();
        flat = groups.SelectMany((g, gi) => g.Params.Select(p => (p.Param, gi))).ToArray();
        expAvg = new Tensor?[flat.Length];
        expAvgSq = new Tensor?[flat.Length];
        steps = new long[flat.Length];
        (LearningRate, this.beta1, this.beta2, this.eps) = (lr, beta1, beta2, eps);
    }

    /// <summary>
    /// true (the default): each parameter's update is one pass of <see cref="AdamWKernel"/> where the parameter, its
    /// gradient and moments are dense float32 CPU tensors. false, or any other tensor: the same update as libtorch
    /// operations, one per term of the formula (the reference form; the two differ only through the square root's
    /// last bit, see <see cref="AdamWKernel"/>).
    /// </summary>
    public bool Fused { get; init; } = true;

    public IReadOnlyList<ParamGroup> Groups => groups;
    public IEnumerable<Parameter> Parameters => flat.Select(f => f.P);
    public void SetLearningRate(double lr) => LearningRate = lr;

    public void Step()
    {
        using var _ = no_grad();
        for (int i = 0; i < flat.Length; i++)
        {
            var (p, gi) = flat[i];
            var g = p.grad;
            if (g is null) continue;
            using var scope = NewDisposeScope();
            double lr = LearningRate * groups[gi].LrScale, wd = groups[gi].WeightDecay;
            if (expAvg[i] is null)
            {
                expAvg[i] = zeros_like(p).DetachFromDisposeScope();
                expAvgSq[i] = zeros_like(p).DetachFromDisposeScope();
            }
            steps[i]++;
            double bc1 = 1 - Math.Pow(beta1, steps[i]), bc2 = 1 - Math.Pow(beta2, steps[i]);
            Tensor m = expAvg[i]!, v = expAvgSq[i]!;
            if (Fused && TensorMemory.IsDenseFloat32(p) && TensorMemory.IsDenseFloat32(g)
                && TensorMemory.IsDenseFloat32(m) && TensorMemory.IsDenseFloat32(v))
            {
                AdamWKernel.Step(p, g, m, v, new AdamWKernel.Coefficients(
                    (float)(1 - lr * wd), (float)beta1, (float)(1 - beta1), (float)beta2, (float)(1 - beta2),
                    (float)Math.Sqrt(bc2), (float)eps, (float)(-lr / bc1)));
                continue;
            }
            if (wd != 0) p.mul_(1 - lr * wd);
            m.mul_(beta1).add_(g, alpha: 1 - beta1);
            v.mul_(beta2).addcmul_(g, g, value: 1 - beta2);
            var denom = v.sqrt().div_(Math.Sqrt(bc2)).add_(eps);
            p.addcdiv_(m, denom, value: -lr / bc1);
        }
    }

    public void ZeroGrad()
    {
        foreach (var (p, _) in flat) p.grad?.zero_();
    }

    public PyDict StateDict()
    {
        var state = new PyDict();
        for (int i = 0; i < flat.Length; i++)
            if (expAvg[i] is not null)
                state[(long)i] = new PyDict { ["step"] = tensor((float)steps[i]), ["exp_avg"] = expAvg[i], ["exp_avg_sq"] = expAvgSq[i] };
        var result = OptimizerState.Groups(groups.Select((g, gi) => (
            (IReadOnlyList<int>)Enumerable.Range(0, flat.Length).Where(i => flat[i].Group == gi).ToList(),
            new PyDict
            {
                ["lr"] = LearningRate * g.LrScale, ["betas"] = new object?[] { beta1, beta2 }, ["eps"] = eps,
                ["weight_decay"] = g.WeightDecay, ["amsgrad"] = false, ["maximize"] = false, ["foreach"] = null,
                ["capturable"] = false, ["differentiable"] = false, ["fused"] = null, ["lr_scale"] = g.LrScale, ["group_name"] = g.Name,
            })));
        result.Insert(0, "state", state);
        return result;
    }

    public void LoadStateDict(PyDict state)
    {
        var groupsIn = (state["param_groups"] as System.Collections.IList)?.Count ?? -1;
        if (groupsIn != groups.Count)
            throw new InvalidDataException($"optimizer state has {groupsIn} parameter groups, this optimizer has {groups.Count}");
        var perParam = (PyDict)state["state"]!;
        using var _ = no_grad();
        for (int i = 0; i < flat.Length; i++)
        {
            expAvg[i]?.Dispose(); expAvgSq[i]?.Dispose();
            expAvg[i] = expAvgSq[i] = null;
            steps[i] = 0;
            if (!perParam.ContainsKey((long)i)) continue;
            var p = flat[i].P;
            expAvg[i] = OptimizerState.TensorAt(state, i, "exp_avg").to(p.dtype, p.device).clone().DetachFromDisposeScope();
            expAvgSq[i] = OptimizerState.TensorAt(state, i, "exp_avg_sq").to(p.dtype, p.device).clone().DetachFromDisposeScope();
            if (!expAvg[i]!.shape.SequenceEqual(p.shape))
                throw new InvalidDataException($"optimizer state of parameter {i} has shape [{string.Join(",", expAvg[i]!.shape)}], the parameter [{string.Join(",", p.shape)}]");
            steps[i] = (long)OptimizerState.TensorAt(state, i, "step").item<float>();
        }
    }

    public void Dispose()
    {
        foreach (var t in expAvg) t?.Dispose();
        foreach (var t in expAvgSq) t?.Dispose();
    }
}
