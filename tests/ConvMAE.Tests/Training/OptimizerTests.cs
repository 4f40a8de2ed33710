using ConvMAE.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace ConvMAE.Tests.Training;

public class OptimizerTests
{
    static (Parameter P, List<ParamGroup> Groups) One(float value, float grad, double wd, double scale = 1.0)
    {
        var p = new Parameter(tensor(new[] { value }));
        p.grad = tensor(new[] { grad });
        return (p, [new ParamGroup("g", wd, scale, [("p", p)])]);
    }

    [Fact]
    public void AdamW_first_two_steps_match_the_formula_by_hand()
    {
        var (p, groups) = One(1.0f, 0.5f, wd: 0.01, scale: 0.5);
        using var opt = new AdamW(groups, lr: 0.2);                 // group lr = 0.2 × 0.5 = 0.1
        opt.Step();
        // decay: 1 × (1 − 0.1·0.01) = 0.999; m̂ = 0.5, v̂ = 0.25 → step 0.1 × 0.5 / (0.5 + 1e−8)
        double expected = 0.999 - 0.1 * 0.5 / (0.5 + 1e-8);
        Assert.Equal(expected, p.item<float>(), 5);
        p.grad = tensor(new[] { -1.0f });
        opt.Step();
        double m = 0.9 * 0.05 + 0.1 * -1, v = 0.999 * 0.00025 + 0.001 * 1;
        double mHat = m / (1 - 0.81), vHat = v / (1 - 0.999 * 0.999);
        expected = expected * (1 - 0.1 * 0.01) - 0.1 * mHat / (Math.Sqrt(vHat) + 1e-8);
        Assert.Equal(expected, p.item<float>(), 5);
    }

    [Fact]
    public void AdamW_state_round_trips_and_continues_identically()
    {
        manual_seed(3);
        var a = new Parameter(randn(4, 3));
        var b = new Parameter(a.detach().clone());
        using var optA = new AdamW([new ParamGroup("g", 0.05, 1.0, [("w", a)])], 1e-2);
        using var optB = new AdamW([new ParamGroup("g", 0.05, 1.0, [("w", b)])], 1e-2);
        for (int i = 0; i < 3; i++) { a.grad = a.detach() * (i + 1); optA.Step(); }
        using (no_grad()) b.copy_(a);
        optB.LoadStateDict(optA.StateDict());
        for (int i = 0; i < 2; i++)
        {
            a.grad = a.detach().sin(); optA.Step();
            b.grad = b.detach().sin(); optB.Step();
        }
        Assert.Equal(a.data<float>().ToArray(), b.data<float>().ToArray());
    }

    /// <summary>
    /// The fused one-pass step (AdamWKernel) against the reference form (one libtorch operation per term): the moments
    /// bit for bit, the parameters within a few ulps (the kernel's square root is correctly rounded, libtorch's is
    /// not always). Sizes below and above the kernel's threshold for splitting over threads, with and without the
    /// 8-wide tail; with and without weight decay; two groups with their own lr_scale; gradients of very different
    /// magnitudes (so √v̂ and eps both matter); several steps with a changing learning rate.
    /// </summary>
    [Fact]
    public void AdamW_fused_step_matches_the_libtorch_operations()
    {
        long[][] shapes = [[1], [7], [3, 5], [64, 33], [300, 257], [1 << 17]];
        (List<ParamGroup> Groups, Parameter[] Params) Make()
        {
            manual_seed(11);
            var ps = shapes.Select(s => new Parameter(randn(s))).ToArray();
            return ([new ParamGroup("decay", 0.05, 1.0, ps.Where((_, i) => i % 2 == 0).Select((p, i) => ($"d{i}", p)).ToList()),
                     new ParamGroup("no_decay", 0.0, 0.3, ps.Where((_, i) => i % 2 == 1).Select((p, i) => ($"n{i}", p)).ToList())], ps);
        }
        var (fusedGroups, fusedParams) = Make();
        var (referenceGroups, referenceParams) = Make();
        using var fused = new AdamW(fusedGroups, 1e-2, beta2: 0.95);
        using var reference = new AdamW(referenceGroups, 1e-2, beta2: 0.95) { Fused = false };
        Assert.True(fused.Fused);
        for (int step = 0; step < 4; step++)
        {
            manual_seed(100 + step);
            var grads = shapes.Select((s, i) => randn(s) * Math.Pow(10, i % 3 * 3 - 5)).ToArray();   // 1e-5 … 10
            for (int i = 0; i < shapes.Length; i++) { fusedParams[i].grad = grads[i].clone(); referenceParams[i].grad = grads[i].clone(); }
            fused.SetLearningRate(1e-2 * (step + 1)); reference.SetLearningRate(1e-2 * (step + 1));
            fused.Step(); reference.Step();
            for (int i = 0; i < shapes.Length; i++)
            {
                using var f = fusedParams[i].detach(); using var r = referenceParams[i].detach();
                // an ulp of the parameter or of the update (at most lr = 0.04 × m̂/√v̂ ≈ 1) per step
                Assert.True((f - r).abs().le((r.abs() + 0.05) * 2.4e-7 * (step + 1)).all().item<bool>(),
                    $"step {step}, parameter {i} [{string.Join(",", shapes[i])}]: max difference {(f - r).abs().max().item<float>():E3}");
            }
        }
        var fusedState = fused.StateDict(); var referenceState = reference.StateDict();
        foreach (var key in new[] { "exp_avg", "exp_avg_sq" })
            for (int i = 0; i < shapes.Length; i++)
                Assert.True(OptimizerState.TensorAt(fusedState, i, key).eq(OptimizerState.TensorAt(referenceState, i, key)).all().item<bool>(), $"{key} of parameter {i}");
    }

    [Fact]
    public void Lars_scales_matrix_updates_by_the_trust_ratio_and_leaves_vectors_unscaled()
    {
        var w = new Parameter(tensor(new float[] { 3, 4 }).view(1, 2));     // ‖w‖ = 5
        w.grad = tensor(new float[] { 0, 1 }).view(1, 2);
        var bias = new Parameter(tensor(new float[] { 1 }));
        bias.grad = tensor(new float[] { 2 });
        using var lars = new Lars([w, bias], lr: 0.5, weightDecay: 0.1);
        lars.Step();
        // dp = g + 0.1·w = (0.3, 1.4); ‖dp‖ = √(0.09 + 1.96); q = 0.001 × 5 / ‖dp‖; mu = q·dp; w −= 0.5·mu
        double norm = Math.Sqrt(0.09 + 1.96), q = 0.001 * 5 / norm;
        Assert.Equal(3 - 0.5 * q * 0.3, w[0, 0].item<float>(), 6);
        Assert.Equal(4 - 0.5 * q * 1.4, w[0, 1].item<float>(), 6);
        Assert.Equal(1 - 0.5 * 2, bias.item<float>(), 6);                       // 1-D: no decay, no trust ratio
        bias.grad = tensor(new float[] { 2 });
        lars.Step();                                                             // momentum: mu = 0.9·2 + 2
        Assert.Equal(0 - 0.5 * 3.8, bias.item<float>(), 5);
    }
}
