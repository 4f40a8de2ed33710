using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// bf16 training with fp32 master weights, for a libtorch without autocast (TorchSharp 0.107 has none).
///
/// The model the optimizer, the checkpoints and the notebooks see stays float32 (the master). A second instance of
/// the same architecture, cast to bfloat16 (the compute copy), runs each step: before the step the master weights are
/// copied into it (rounded to bf16), forward and backward run in bf16 — on this CPU (AVX512-BF16) its matrix
/// products and convolutions run several times faster than in fp32 — and its gradients are copied back to the
/// master as float32, where AdamW updates them. Inputs enter as float32 and are cast by the model; the loss is
/// computed in float32 (the model returns float32 predictions and logits). Differences from CUDA autocast: every op
/// of the compute copy runs in bf16, LayerNorm and softmax included (libtorch accumulates them in float32
/// internally), and there is no loss scaling, which bf16's float32-sized exponent does not need.
/// Buffers (BatchNorm statistics) are not copied back, so a model with BatchNorm is refused.
/// </summary>
public sealed class MixedPrecision : IDisposable
{
    readonly List<(Parameter Master, Parameter Compute)> pairs = [];

    /// <summary>The module that runs the steps: the master itself in fp32, the bf16 copy otherwise.</summary>
    public nn.Module Compute { get; }
    public nn.Module Master { get; }
    public string Dtype { get; }
    public bool IsMixed => !ReferenceEquals(Compute, Master);

    MixedPrecision(nn.Module master, nn.Module compute, string dtype)
    {
        Master = master;
        Compute = compute;
        Dtype = dtype;
        if (!IsMixed) return;
        var masters = master.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in compute.named_parameters())
            pairs.Add((masters.TryGetValue(name, out var m) ? m : throw new ArgumentException($"mixed precision: the copy has '{name}', the master does not"), p));
        if (pairs.Count != masters.Count) throw new ArgumentException("mixed precision: the copy and the master have different parameters");
        if (master.named_buffers().Any(b => b.name.EndsWith("running_mean", StringComparison.Ordinal)))
            throw new NotSupportedException("--dtype bf16: models with BatchNorm (linear probing) are not supported; use fp32");
    }

    /// <summary>
    /// fp32: the model itself. bf16: <paramref name="makeCopy"/> builds a second instance of the architecture (same
    /// config), which is cast to bfloat16 and kept in step with <paramref name="master"/>.
    /// </summary>
    public static MixedPrecision For(nn.Module master, Func<nn.Module> makeCopy, string dtype) => dtype switch
    {
        "fp32" => new MixedPrecision(master, master, dtype),
        "bf16" => new MixedPrecision(master, makeCopy().to(bfloat16), dtype),
        _ => throw new ArgumentException($"--dtype {dtype}: expected fp32 or bf16"),
    };

    /// <summary>Before the forward: master weights into the compute copy (and its train/eval mode).</summary>
    public void BeforeStep()
    {
        if (!IsMixed) return;
        Compute.train(Master.training);
        using var _ = no_grad();
        foreach (var (m, c) in pairs) c.copy_(m);
    }

    /// <summary>
    /// After the backward: the compute copy's gradients added onto the master's as float32 (adding, so --accum_iter
    /// accumulates as in fp32), then cleared on the copy.
    /// </summary>
    public void AfterBackward()
    {
        if (!IsMixed) return;
        using var _ = no_grad();
        foreach (var (m, c) in pairs)
        {
            using var g = c.grad;
            if (g is null) continue;
            using var mg = m.grad;
            if (mg is null)
            {
                using var f = g.to(float32);
                m.grad = f;                                   // libtorch keeps its own reference
            }
            else mg.add_(g);
            c.grad = null;
        }
    }

    public void Dispose()
    {
        if (IsMixed) Compute.Dispose();
    }
}
