using ConvMAE.Detection;
using ConvMAE.Training;
using static TorchSharp.torch;

namespace ConvMAE.Data.Coco;

/// <summary>A batch of detection samples on the host (managed memory only): every sample is Size×Size already
/// (FixedSizeCrop pads), so the batch is their stack; instances stay per image.</summary>
public sealed record DetHostBatch(int Epoch, int Index, IReadOnlyList<DetSample> Samples) : IHostBatch
{
    public int Count => Samples.Count;

    public static DetHostBatch Collate(BatchSlot slot, IReadOnlyList<DetSample> samples) => new(slot.Epoch, slot.Index, samples);

    /// <summary>RGB 0..255 as float [B,3,S,S] (the detector normalises), on <paramref name="device"/>.</summary>
    public Tensor Images(Device device)
    {
        using var scope = NewDisposeScope();
        int s = Samples[0].Size;
        var all = new byte[Count * s * s * 3];
        for (int i = 0; i < Count; i++)
        {
            if (Samples[i].Size != s) throw new InvalidDataException($"{Samples[i].Name}: a {Samples[i].Size}-pixel sample in a batch of {s}");
            Buffer.BlockCopy(Samples[i].Pixels, 0, all, i * s * s * 3, s * s * 3);
        }
        return tensor(all, [Count, s, s, 3], dtype: ScalarType.Byte).permute(0, 3, 1, 2).to(float32).to(device).MoveToOuterDisposeScope();
    }

    /// <summary>Per image: boxes float [n,4], classes int64 [n], masks uint8 [n,S,S].</summary>
    public ImageTargets[] Targets(Device device) => Samples.Select(x =>
    {
        int n = x.InstanceCount, s = x.Size;
        return new ImageTargets(tensor(x.Boxes, [n, 4]).to(device), tensor(x.Classes, [n]).to(device),
                                tensor(x.Masks, [n, s, s], dtype: ScalarType.Byte).to(device));
    }).ToArray();
}

/// <summary>Training samples: a COCO dataset through the LSJ pipeline.</summary>
public sealed class DetTrainSource(CocoDetectionDataset data, DetPipeline pipeline) : ISampleSource<DetSample>
{
    public int Count => data.Count;
    public string Describe => $"{data.ImageDir} ({data.Count} images with objects)";
    public DetSample Load(int index, Random rng) => pipeline.Train(data.Load(index), rng);
}
