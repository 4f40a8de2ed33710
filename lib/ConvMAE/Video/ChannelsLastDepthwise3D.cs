using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>
/// The video CBlock's kt×k×k depthwise convolution (stride 1, space zero-padded by k/2, time padded by kt/2 with edge
/// slices or zeros) on a channels-last map [N,T',H,W,C] → [N,T',H,W,C], as kt two-dimensional depthwise convolutions:
/// output slice t = Σ_dt conv2d(padded slice t + dt, kernel[:, :, dt]) (+ bias once). Each 2-D convolution is
/// <see cref="ChannelsLastDepthwise"/>, whose backward is written out; libtorch's own Conv3d backward with groups = C
/// was the slowest part of a video block here (about 3 s of a 3.2 s fwd+bwd for [2,256,8,56,56] on 2 cores, the
/// weight gradient), the same problem the image stages had. Same function as the NCDHW Conv3d, summed in another order.
/// </summary>
public static class ChannelsLastDepthwise3D
{
    /// <param name="conv">The depthwise Conv3d [C,1,kt,k,k] (a <see cref="CBlock3D"/>'s <c>attn</c>).</param>
    /// <param name="x">[N,T',H,W,C]</param>
    /// <param name="replicateTime">Pad time with the edge slices (temporal_padding "replicate"), else with zeros.</param>
    public static Tensor Apply(Conv3d conv, Tensor x, bool replicateTime)
    {
        var w = conv.weight!;
        if (x.dim() != 5 || x.shape[4] != w.shape[0])
            throw new ArgumentException($"depthwise 3-D input: expected [N,T',H,W,{w.shape[0]}], got [{string.Join(",", x.shape)}]");
        using var scope = NewDisposeScope();
        long n = x.shape[0], t = x.shape[1], h = x.shape[2], wd = x.shape[3], c = x.shape[4];
        int kt = (int)w.shape[2], pad = kt / 2;
        var padded = pad == 0 ? x : cat([Edge(x, 0, pad, replicateTime), x, Edge(x, t - 1, pad, replicateTime)], 1);   // [N,T'+kt-1,H,W,C]
        Tensor? y = null;
        for (int dt = 0; dt < kt; dt++)
        {
            // The centre tap reads x itself (a view when x is contiguous), not another copy of it from the padded map.
            var slices = (dt == pad ? x : padded.narrow(1, dt, t)).reshape(n * t, h, wd, c);   // [N·T',H,W,C]
            var part = ChannelsLastDepthwise.Apply(w.select(2, dt), dt == 0 ? conv.bias : null, slices);
            y = y is null ? part : y + part;
        }
        return y!.view(n, t, h, wd, c).MoveToOuterDisposeScope();
    }

    /// <summary>pad copies of slice <paramref name="index"/> (replicate) or zeros: [N,pad,H,W,C].</summary>
    static Tensor Edge(Tensor x, long index, int pad, bool replicate)
    {
        long[] shape = [x.shape[0], pad, x.shape[2], x.shape[3], x.shape[4]];
        return replicate ? x.narrow(1, index, 1).expand(shape) : zeros(shape, dtype: x.dtype, device: x.device);
    }
}
