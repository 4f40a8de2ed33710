using ConvMAE.Data;
using ConvMAE.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>Masked-autoencoder pretraining (official engine_pretrain): loss = model(imgs, mask_ratio), masking noise
/// drawn from libtorch's generator, which the loop seeds per step.</summary>
public sealed class PretrainTask(MaskedAutoencoderConvViT model) : ITrainingTask<HostBatch>
{
    public string Kind => "pretrain";
    public nn.Module Model => model;
    public MaskedAutoencoderConvViT Autoencoder => model;

    public IReadOnlyDictionary<string, Tensor> Losses(HostBatch host, Device device, Random rng)
    {
        var batch = Batch.FromHost(host, device);          // disposed with the step's scope
        using var output = model.forward(batch.Images);
        return LossNames.Single(output.Loss.clone());
    }
}
