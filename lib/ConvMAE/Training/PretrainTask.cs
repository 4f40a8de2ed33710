using ConvMAE.Data;
using ConvMAE.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>Masked-autoencoder pretraining (official engine_pretrain): loss = model(imgs, mask_ratio), masking noise
/// drawn from libtorch's generator, which the loop seeds per step.</summary>
public sealed class PretrainTask(MaskedAutoencoderConvViT model) : ITrainingTask
{
    public string Kind => "pretrain";
    public nn.Module Model => model;
    public MaskedAutoencoderConvViT Autoencoder => model;

    public Tensor Loss(Batch batch, Random rng)
    {
        using var output = model.forward(batch.Images);
        return output.Loss.clone();
    }
}
