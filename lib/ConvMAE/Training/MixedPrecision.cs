using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// bf16 training with fp32 master weights, for a libtorch without autocast (TorchSharp 0.107 has none), as one
/// wrapper around any task: <see cref="Apply{THost}"/> builds the task once, on the model that computes.
///
/// The model the optimizer, the checkpoints and the notebooks see stays float32 (the master). A second instance of
/// the same architecture, cast to bfloat16 (the compute copy), runs each step: before the step the master weights are
/// copied into it (rounded to bf16), forward and backward run in bf16 (on CPUs with AVX512-BF16 or AMX its matrix
/// products and convolutions run several times faster than in fp32), and its gradients are added onto the master's
/// as float32, where the optimizer updates them. Losses are returned in float32. Differences from CUDA autocast:
/// every op of the compute copy runs in bf16, LayerNorm and softmax included (libtorch accumulates them in float32
/// internally), and there is no loss scaling, which bf16's float32-sized exponent does not need.
///
/// BatchNorm (FPN, RoI heads, UperNet, the linear probe's head) stays float32 in the compute copy: weights, bias and
/// running statistics (libtorch's CPU batch_norm takes bf16 input with float32 parameters and statistics). The
/// statistics it updates are copied into the master after every step, so the master's are always current and exact.
/// </summary>
public sealed class MixedPrecision<THost> : ITrainingTask<THost>, IDisposable where THost : IHostBatch
{
    readonly nn.Module master, compute;
    readonly ITrainingTask<THost> inner;
    readonly List<(Parameter Master, Parameter Compute)> parameters = [];
    readonly List<(Tensor Master, Tensor Compute)> statistics = [];

    MixedPrecision(nn.Module master, nn.Module compute, Func<nn.Module, ITrainingTask<THost>> taskFor)
    {
        this.master = master;
        this.compute = compute;
        inner = taskFor(compute);
        var masters = master.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in compute.named_parameters())
            parameters.Add((masters.TryGetValue(name, out var m) ? m : throw new ArgumentException($"mixed precision: the copy has '{name}', the master does not"), p));
        if (parameters.Count != masters.Count) throw new ArgumentException("mixed precision: the copy and the master have different parameters");
        var masterBuffers = master.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach (var (name, b) in compute.named_buffers())
            if (IsBatchNormStatistic(name) && masterBuffers.TryGetValue(name, out var mb)) statistics.Add((mb, b));
    }

    /// <summary>
    /// fp32: <paramref name="taskFor"/> on the model itself, no wrapper. bf16: <paramref name="makeCopy"/> builds a
    /// second instance of the architecture (same config, on the same device); it is cast to bfloat16 except its
    /// BatchNorm layers, and <paramref name="taskFor"/> builds the task on it, once.
    /// </summary>
    public static ITrainingTask<THost> Apply(string dtype, nn.Module master, Func<nn.Module, ITrainingTask<THost>> taskFor, Func<nn.Module> makeCopy)
        => dtype switch
        {
            "fp32" => taskFor(master),
            "bf16" => new MixedPrecision<THost>(master, ToComputeDtype(makeCopy()), taskFor),
            _ => throw new ArgumentException($"--dtype {dtype}: expected fp32 or bf16"),
        };

    /// <summary>bf16 everywhere but BatchNorm, which keeps float32 parameters and statistics, and the convolutions
    /// libtorch computes wrongly in bf16 (<see cref="HasBrokenBf16Kernel"/>), which run in float32 between casts.</summary>
    static nn.Module ToComputeDtype(nn.Module copy)
    {
        copy.to(bfloat16);
        foreach (var (_, m) in copy.named_modules())
        {
            if (m is BatchNorm1d or BatchNorm2d or BatchNorm3d) m.to(float32);
            else if (m is Convolution conv && HasBrokenBf16Kernel(conv))
            {
                conv.to(float32);
                conv.register_forward_pre_hook((_, x) => x.to(float32));
                conv.register_forward_hook((_, _, y) => y.to(bfloat16));
            }
        }
        return copy;
    }

    /// <summary>
    /// libtorch 2.10's CPU convolutions in bf16 return wrong values (errors of a fifth to half of the output's range,
    /// silently) when the kernel is larger than 1 and the output channels are not a multiple of 16, for dense and
    /// transposed convolutions alike; depthwise convolutions and 1×1 kernels are right (measured on AMD EPYC with
    /// AVX512-BF16: cout 8, 12, 15, 17, 24 wrong; 16, 32, 48, 64, 256 right). ConvMAE's own layers are all safe; small
    /// heads and toy models are not.
    /// </summary>
    public static bool HasBrokenBf16Kernel(Convolution conv) =>
        conv.kernel_size.Any(k => k > 1) && conv.out_channels % 16 != 0 && !(conv.groups > 1 && conv.groups == conv.in_channels);

    static bool IsBatchNormStatistic(string name) =>
        name.EndsWith("running_mean", StringComparison.Ordinal) || name.EndsWith("running_var", StringComparison.Ordinal)
        || name.EndsWith("num_batches_tracked", StringComparison.Ordinal);

    public string Kind => inner.Kind;
    /// <summary>The master (float32): what checkpoints hold and evaluation runs.</summary>
    public nn.Module Model => master;
    public nn.Module Compute => compute;

    /// <summary>Master weights into the compute copy (and its train/eval mode), then the task's losses, in float32.</summary>
    public IReadOnlyDictionary<string, Tensor> Losses(THost batch, Device device, Random rng)
    {
        compute.train(master.training);
        using (no_grad())
        {
            foreach (var (m, c) in parameters) c.copy_(m);
            foreach (var (m, c) in statistics) c.copy_(m);
        }
        return inner.Losses(batch, device, rng).ToDictionary(kv => kv.Key, kv => kv.Value.dtype == float32 ? kv.Value : kv.Value.to(float32));
    }

    /// <summary>
    /// The compute copy's gradients added onto the master's as float32 (adding, so --accum_iter accumulates as in
    /// fp32), then cleared on the copy; the BatchNorm statistics the forward updated, copied into the master.
    /// </summary>
    public void AfterBackward()
    {
        inner.AfterBackward();
        using var _ = no_grad();
        foreach (var (m, c) in parameters)
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
        foreach (var (m, c) in statistics) m.copy_(c);
    }

    public void Dispose() => compute.Dispose();
}
