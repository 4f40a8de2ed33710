using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// One AdamW update of one parameter in a single pass over its memory, for <see cref="AdamW"/>. libtorch's form is eight
/// operations per parameter: eight passes over up to four tensors (115 M elements each for ConvMAE-Base) plus a
/// temporary for the denominator, each with its own call overhead, which on the CPU presets' hundreds of small
/// parameters costs more than the arithmetic.
/// The arithmetic is libtorch's, operation for operation, in float32 and rounded where its CPU kernels round:
/// <c>add_(g, alpha)</c> and <c>addcmul_</c> each end in one fused multiply-add (ATen's vectorised add, and the compiler's
/// contraction of addcmul's <c>self + s·t1·t2</c>, in its vector and scalar loops alike), <c>addcdiv_</c> rounds after its
/// multiply, divide and add. So exp_avg and exp_avg_sq come out bit for bit as libtorch's. One difference, on
/// purpose: the square root here is IEEE's, correctly rounded, while libtorch's CPU <c>sqrt</c> (MKL's vector maths)
/// is 1 ulp off for about one element in six; the parameter then differs from the reference form's by at most an ulp
/// or two per step (OptimizerTests checks both).
/// </summary>
internal static class AdamWKernel
{
    /// <summary>
    /// The step's scalars, each rounded to float32 as libtorch rounds a Scalar for a float32 tensor. Decay is 1 − lr·wd,
    /// so 1 without weight decay, where multiplying by it leaves every float as it is (the reference form skips it).
    /// </summary>
    public readonly record struct Coefficients(
        float Decay, float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2,
        float SqrtBiasCorrection2, float Eps, float NegativeStepSize);

    /// <summary>Below this many elements the update runs on the calling thread (splitting costs more than it saves).</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>Updates p, m (exp_avg) and v (exp_avg_sq) in place from g. All four: float32, CPU, contiguous, one size.</summary>
    public static unsafe void Step(Tensor p, Tensor g, Tensor m, Tensor v, Coefficients c)
    {
        long n = p.numel();
        if (g.numel() != n || m.numel() != n || v.numel() != n)
            throw new ArgumentException($"AdamWKernel: parameter, gradient and moments differ in size ({n}, {g.numel()}, {m.numel()}, {v.numel()})");
        float* pp = (float*)TensorMemory.DataPointer(p), gp = (float*)TensorMemory.DataPointer(g);
        float* mp = (float*)TensorMemory.DataPointer(m), vp = (float*)TensorMemory.DataPointer(v);
        int parts = n < ParallelThreshold ? 1 : Math.Max(1, get_num_threads());
        if (parts == 1) { Update(pp, gp, mp, vp, 0, n, c); return; }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, i =>
            Update(pp, gp, mp, vp, n * i / parts, n * (i + 1) / parts, c));
    }

    // Fully optimised from the first call: the CPU presets' steps take milliseconds, so tiered compilation would run
    // the first few hundred updates in unoptimised code, where every vector operation is a call.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Update(float* p, float* g, float* m, float* v, long start, long end, Coefficients c)
    {
        var decay = Vector256.Create(c.Decay);
        var beta1 = Vector256.Create(c.Beta1);
        var oneMinusBeta1 = Vector256.Create(c.OneMinusBeta1);
        var beta2 = Vector256.Create(c.Beta2);
        var oneMinusBeta2 = Vector256.Create(c.OneMinusBeta2);
        var sqrtBc2 = Vector256.Create(c.SqrtBiasCorrection2);
        var eps = Vector256.Create(c.Eps);
        var negStep = Vector256.Create(c.NegativeStepSize);
        long i = start;
        for (; i + Vector256<float>.Count <= end; i += Vector256<float>.Count)
        {
            var pv = Vector256.Load(p + i);
            pv *= decay;                                                                // p.mul_(1 − lr·wd)
            var gv = Vector256.Load(g + i);
            var mv = Vector256.FusedMultiplyAdd(gv, oneMinusBeta1, Vector256.Load(m + i) * beta1);   // m.mul_(β1).add_(g, 1 − β1)
            var vv = Vector256.FusedMultiplyAdd(oneMinusBeta2 * gv, gv, Vector256.Load(v + i) * beta2);   // v.mul_(β2).addcmul_(g, g, 1 − β2)
            var denom = Vector256.Sqrt(vv) / sqrtBc2 + eps;                             // v.sqrt().div_(√bc2).add_(eps)
            pv += negStep * mv / denom;                                                 // p.addcdiv_(m, denom, −lr/bc1)
            pv.Store(p + i); mv.Store(m + i); vv.Store(v + i);
        }
        for (; i < end; i++)
        {
            float pv = p[i] * c.Decay;
            float gv = g[i];
            float mv = MathF.FusedMultiplyAdd(gv, c.OneMinusBeta1, m[i] * c.Beta1);
            float vv = MathF.FusedMultiplyAdd(c.OneMinusBeta2 * gv, gv, v[i] * c.Beta2);
            float denom = MathF.Sqrt(vv) / c.SqrtBiasCorrection2 + c.Eps;
            p[i] = pv + c.NegativeStepSize * mv / denom;
            m[i] = mv; v[i] = vv;
        }
    }
}
