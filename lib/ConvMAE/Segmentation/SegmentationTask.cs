using ConvMAE.Data.Segmentation;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>Semantic segmentation on the shared loop: the batch's crops through the segmenter, mmseg's two named
/// losses ("decode.loss_seg" and the 0.4-weighted "aux.loss_seg").</summary>
public sealed class SegmentationTask(UperNetSegmenter model) : ITrainingTask<SegHostBatch>
{
    public string Kind => "segment";
    public nn.Module Model => model;

    public IReadOnlyDictionary<string, Tensor> Losses(SegHostBatch batch, Device device, Random rng)
    {
        var (images, labels) = batch.ToTensors(device);
        return model.Losses(images, labels);
    }
}
