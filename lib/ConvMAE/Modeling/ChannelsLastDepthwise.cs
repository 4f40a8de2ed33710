using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// A CBlock's 5×5 depthwise convolution (stride 1, padding 2) on a channels-last map [N,H,W,C] → [N,H,W,C], with the
/// backward written out: the input gradient is the convolution of the output gradient with the flipped
/// kernel (libtorch's depthwise forward, which is fast), the weight gradient is <see cref="DepthwiseWeightGrad"/>, the
/// bias gradient the output gradient summed over positions. libtorch's own backward was the slowest part of a dense
/// stage-1 block here. Calls without gradients (and other devices) use libtorch's convolution as is.
/// </summary>
public static class ChannelsLastDepthwise
{
    /// <param name="conv">The depthwise Conv2d [C,1,k,k] (a CBlock's <c>attn</c>).</param>
    /// <param name="x">[N,H,W,C]</param>
    public static Tensor Apply(Conv2d conv, Tensor x) => Apply(conv.weight!, conv.bias, x);

    /// <summary>The same with the kernel given as tensors: <paramref name="w"/> [C,1,k,k] (may be a view of a larger
    /// kernel, as <see cref="Video.ChannelsLastDepthwise3D"/> passes one time tap), <paramref name="bias"/> [C] or null.</summary>
    public static Tensor Apply(Tensor w, Tensor? bias, Tensor x)
    {
        var b = bias ?? zeros(w.shape[0], dtype: x.dtype, device: x.device);
        bool needsGrad = is_grad_enabled() && (x.requires_grad || w.requires_grad || b.requires_grad);
        if (!needsGrad || x.device.type != DeviceType.CPU)
        {
            using var scope = NewDisposeScope();
            return Convolve(x, w, b).MoveToOuterDisposeScope();
        }
        return Function.apply(x, w, b);
    }

    /// <summary>libtorch's depthwise convolution on the channels-last map, read back as [N,H,W,C].</summary>
    internal static Tensor Convolve(Tensor x, Tensor weight, Tensor? bias)
    {
        long c = x.shape[3], pad = weight.shape[2] / 2;
        return nn.functional.conv2d(x.permute(0, 3, 1, 2), weight, bias, padding: [pad, pad], groups: c).permute(0, 2, 3, 1);
    }

    /// <summary>
    /// The input and weight gradients of the convolution of <paramref name="input"/> [N,H,W,C] (contiguous) given the
    /// output gradient <paramref name="grad"/> [N,H,W,C] (contiguous): the flipped kernel on the gradient (libtorch's
    /// forward), and <see cref="DepthwiseWeightGrad"/>, whose loop is float32 (a bf16 model's maps are cast and its sums
    /// accumulate in float32). Shared with the sparse form's <see cref="VisibleDepthwise"/>, which calls it on its
    /// zero-filled maps.
    /// </summary>
    internal static (Tensor Input, Tensor Weight) Gradients(Tensor input, Tensor weight, Tensor grad)
    {
        int k = (int)weight.shape[2];
        var gradInput = Convolve(grad, weight.flip(2, 3), null).contiguous();                         // [N,H,W,C]
        var gradWeight = DepthwiseWeightGrad.Compute(input.to(float32), grad.to(float32), k).to(weight.dtype);   // [C,1,k,k]
        return (gradInput, gradWeight);
    }

    sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => nameof(ChannelsLastDepthwise);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            using var scope = NewDisposeScope();
            var input = x.contiguous();                                    // [N,H,W,C], saved for the weight gradient
            var y = Convolve(input, weight, bias).contiguous();
            SavedForBackward.Save(ctx, input, weight);
            return y.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var (input, weight) = (saved[0], saved[1]);
            using var scope = NewDisposeScope();
            var g = gradOutput.contiguous();                               // [N,H,W,C]
            var (gradInput, gradWeight) = Gradients(input, weight, g);
            var gradBias = g.view(-1, g.shape[3]).sum(dim: 0);              // [C]
            SavedForBackward.Release(ctx, saved);
            scope.MoveToOuter(gradInput, gradWeight, gradBias);
            return [gradInput, gradWeight, gradBias];
        }
    }
}
