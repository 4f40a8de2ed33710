using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>The image model's leakage check for clips: do the pixels of masked tubes reach a visible token's latent?</summary>
public static class VideoLeakageCheck
{
    /// <summary>
    /// Max |Δ latent| over the visible tokens when every pixel of the masked tubes (all frames) is replaced by
    /// <paramref name="replacement"/> (default randn_like) under the same masking; eval mode, no gradients.
    /// </summary>
    /// <param name="clips">[N,3,T,S,S]</param>
    public static double MaxVisibleLatentChange(VideoMaskedAutoencoder model, Tensor clips, TubePlan tube, Tensor? replacement = null)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var c = model.Config;
            var removed = TubeMasking.Upsample(tube.SpatialMask, c.GridSize, c.TokenPixels).to(clips.dtype);   // [N,1,1,S,S]
            var changed = clips * (1 - removed) + (replacement ?? randn_like(clips)) * removed;
            var a = model.ForwardEncoder(clips, tube);
            var b = model.ForwardEncoder(changed, tube);
            return (a - b).abs().max().item<float>();
        }
        finally { model.train(wasTraining); }
    }
}
