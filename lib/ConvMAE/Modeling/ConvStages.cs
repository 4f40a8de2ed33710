using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Stages 1-2 and patch_embed3 of the downstream backbones (detection's ConvViTDet, segmentation's ConvMAESegBackbone),
/// which run them unmasked on large maps (256² at stage 1 for a 1024-pixel detection image). Two forms, same function:
/// the official NCHW modules, and the classifier's channels-last form (<see cref="CBlock.ForwardChannelsLast"/>: the
/// norms on the last axis, matrix-product 1×1 convolutions and embeddings, the written-out depthwise backward, drop
/// path computing only the samples it keeps). The FPN and UperNet take the stage outputs as contiguous NCHW maps, so the
/// channels-last form converts each once at the end.
/// </summary>
internal static class ConvStages
{
    /// <param name="x">[B,3,H,W] images in the compute dtype.</param>
    /// <returns>s0 [B,E0,H/4,W/4] and s1 [B,E1,H/8,W/8] (NCHW), and patch_embed3's output as tokens [B,h·w,E2]
    /// (row-major, before patch_embed4) with its grid h×w.</returns>
    public static (Tensor S0, Tensor S1, Tensor Tokens, int H, int W) Run(
        Tensor x, PatchEmbed patchEmbed1, Dropout posDrop, IEnumerable<CBlock> blocks1,
        PatchEmbed patchEmbed2, IEnumerable<CBlock> blocks2, PatchEmbed patchEmbed3, bool channelsLast)
    {
        using var scope = NewDisposeScope();
        Tensor s0, s1, tokens;
        if (channelsLast)
        {
            var m0 = posDrop.call(patchEmbed1.ForwardChannelsLast(x.permute(0, 2, 3, 1)));   // [B,H/4,W/4,E0]; QUIRK: pos_drop here, as official
            foreach (var b in blocks1) m0 = b.ForwardChannelsLast(m0);
            var m1 = patchEmbed2.ForwardChannelsLast(m0);                                      // [B,H/8,W/8,E1]
            foreach (var b in blocks2) m1 = b.ForwardChannelsLast(m1);
            var e = patchEmbed3.ForwardChannelsLast(m1);                                       // [B,h,w,E2]
            s0 = m0.permute(0, 3, 1, 2).contiguous();
            s1 = m1.permute(0, 3, 1, 2).contiguous();
            tokens = e.reshape(e.shape[0], -1, e.shape[3]);                                   // token l = row·w + col
        }
        else
        {
            s0 = posDrop.call(patchEmbed1.call(x));                                            // [B,E0,H/4,W/4]
            foreach (var b in blocks1) s0 = b.call(s0, null);
            s1 = patchEmbed2.call(s0);                                                         // [B,E1,H/8,W/8]
            foreach (var b in blocks2) s1 = b.call(s1, null);
            var e = patchEmbed3.call(s1);                                                      // [B,E2,h,w]
            tokens = e.flatten(2).permute(0, 2, 1);
        }
        int h = (int)s1.shape[2] / patchEmbed3.PatchSize, w = (int)s1.shape[3] / patchEmbed3.PatchSize;
        return (s0.MoveToOuterDisposeScope(), s1.MoveToOuterDisposeScope(), tokens.MoveToOuterDisposeScope(), h, w);
    }
}
