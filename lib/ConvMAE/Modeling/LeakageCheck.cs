using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Does information from masked pixels reach the visible tokens? With masked convolution (the paper), the latent of the
/// visible tokens must not depend on the pixels of the removed 16×16 blocks; without it, the 5×5 depthwise convs leak.
/// </summary>
public static class LeakageCheck
{
    /// <summary>
    /// Max |Δ latent| over the kept tokens when every pixel of the removed blocks is replaced (by
    /// <paramref name="replacement"/>, default <c>torch.randn_like(imgs)</c> from the global generator) under the same masking. Runs in eval mode
    /// without gradients and restores the previous mode.
    /// </summary>
    /// <param name="imgs">[N,3,S,S]</param>
    /// <param name="noise">[N,L] masking noise (official random_masking).</param>
    public static double MaxVisibleLatentChange(MaskedAutoencoderConvViT model, Tensor imgs, Tensor noise,
                                                double? maskRatio = null, Tensor? replacement = null)
    {
        using var plan = model.RandomMasking(noise, maskRatio);
        return MaxVisibleLatentChange(model, imgs, plan, replacement);
    }

    public static double MaxVisibleLatentChange(MaskedAutoencoderConvViT model, Tensor imgs, MaskPlan plan,
                                                Tensor? replacement = null) =>
        CompareLatents(model, imgs, plan, replacement, (a, b) => (double)(a - b).abs().max().item<float>());

    /// <summary>
    /// Where the leak lands: per token of the grid, max over channels of |Δ latent| when the removed blocks' pixels
    /// are replaced as in <see cref="MaxVisibleLatentChange(MaskedAutoencoderConvViT, Tensor, MaskPlan, Tensor?)"/>.
    /// Returns [N,L] in grid order (row-major g×g); removed tokens, which have no latent, are NaN.
    /// </summary>
    public static Tensor VisibleLatentChangePerToken(MaskedAutoencoderConvViT model, Tensor imgs, MaskPlan plan,
                                                     Tensor? replacement = null) =>
        CompareLatents(model, imgs, plan, replacement, (a, b) =>
        {
            var delta = (a - b).abs().amax([-1]);                   // [N,Lk]
            var grid = full(plan.Mask.shape[0], plan.NumTokens, double.NaN, dtype: delta.dtype, device: delta.device);
            grid.scatter_(1, plan.IdsKeep, delta);                 // kept tokens back to their grid positions
            return grid.MoveToOuterDisposeScope();
        });

    /// <summary>
    /// The kept tokens' latents [N,Lk,E2] of the images as given and with every pixel of the removed blocks replaced
    /// (by <paramref name="replacement"/>, default randn_like), same masking, in eval mode without gradients (the
    /// previous mode is restored); <paramref name="compare"/> runs inside a dispose scope.
    /// </summary>
    static T CompareLatents<T>(MaskedAutoencoderConvViT model, Tensor imgs, MaskPlan plan, Tensor? replacement, Func<Tensor, Tensor, T> compare)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var c = model.Config;
            var removed = Masking.Upsample(plan.Mask, c.GridSize, c.TokenPixels).to(imgs.dtype);   // [N,1,S,S], 1 = removed
            var changed = imgs * (1 - removed) + (replacement ?? randn_like(imgs)) * removed;       // only removed blocks differ
            return compare(model.ForwardEncoder(imgs, plan), model.ForwardEncoder(changed, plan));
        }
        finally { model.train(wasTraining); }
    }
}
