using ConvMAE.Data.Coco;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>Instance segmentation on the shared loop: detectron2's five named losses.</summary>
public sealed class DetectionTask(MaskRcnn model) : ITrainingTask<DetHostBatch>
{
    public string Kind => "detect";
    public nn.Module Model => model;

    public IReadOnlyDictionary<string, Tensor> Losses(DetHostBatch batch, Device device, Random rng) =>
        model.Losses(batch.Images(device), batch.Targets(device), rng);
}
