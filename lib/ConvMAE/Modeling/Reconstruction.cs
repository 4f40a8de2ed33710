using ConvMAE.Data;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>What the autoencoder makes of a batch, as displayable images [N,3,H,W] in [0,1].</summary>
public sealed record ReconstructionImages(Tensor Original, Tensor Masked, Tensor Reconstruction, Tensor Pasted, Tensor Mask, double Loss)
    : IDisposable
{
    public void Dispose()
    {
        Original.Dispose(); Masked.Dispose(); Reconstruction.Dispose(); Pasted.Dispose(); Mask.Dispose();
    }
}

/// <summary>
/// Reconstructions for figures (the MAE paper's grids): the image, the image with its masked 16×16 blocks blanked, the
/// decoder's prediction for every block, and the prediction with the visible blocks pasted back. With norm_pix_loss
/// the decoder predicts each block normalised by its own mean and variance; those are taken from the true block (as
/// the MAE visualisation does), since the prediction alone has no scale.
/// </summary>
public static class Reconstruction
{
    /// <param name="imgs">ImageNet-normalised [N,3,S,S].</param>
    /// <param name="noise">[N,L] masking noise (fixed noise gives the same masks at every checkpoint).</param>
    public static ReconstructionImages Of(MaskedAutoencoderConvViT model, Tensor imgs, Tensor noise)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var guard = NativeCallGuard.Enter();   // called from notebooks and hooks, outside the trainer's guarded step
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            using var output = model.Forward(imgs, noise);
            var pred = output.Pred;                                                  // [N,L,p²·3]
            if (model.Config.NormPixLoss)
            {
                var target = model.Patchify(imgs);
                var mean = target.mean([-1], keepdim: true);
                var std = (target.var(-1, unbiased: true, keepdim: true) + 1e-6).sqrt();
                pred = pred * std + mean;
            }
            int p = model.Config.TokenPixels;
            var mask = output.Mask.unsqueeze(-1).expand(-1, -1, p * p * 3);       // [N,L,p²·3], 1 = removed
            var maskImage = model.Unpatchify(mask);                                 // [N,3,S,S]
            var recon = model.Unpatchify(pred);
            var original = ImageNetStats.Denormalize(imgs);
            var masked = original * (1 - maskImage) + maskImage * 0.5;              // removed blocks shown grey
            var reconImage = ImageNetStats.Denormalize(recon);
            var pasted = original * (1 - maskImage) + reconImage * maskImage;
            var result = new ReconstructionImages(original, masked, reconImage, pasted, maskImage[.., 0].clone(), output.Loss.item<float>());
            scope.MoveToOuter(result.Original, result.Masked, result.Reconstruction, result.Pasted, result.Mask);
            return result;
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
