using ConvMAE.Training;
using static TorchSharp.torch;

namespace ConvMAE.Data.Segmentation;

/// <summary>A batch of segmentation crops on the host: uint8 RGB [Count, Size, Size, 3] (zero outside each sample's
/// Width×Height) and labels [Count, Size, Size] (255 outside and where ignored).</summary>
public sealed record SegHostBatch(int Epoch, int Index, int Size, byte[] Pixels, byte[] Labels, int[] Widths, int[] Heights, string[] Names)
    : IHostBatch
{
    public int Count => Names.Length;

    /// <summary>mmseg's Pad: every sample into the top-left corner of a Size×Size canvas.</summary>
    public static SegHostBatch Collate(BatchSlot slot, IReadOnlyList<SegSample> samples, int size)
    {
        var pixels = new byte[samples.Count * size * size * 3];
        var labels = new byte[samples.Count * size * size];
        Array.Fill(labels, SegPipeline.Ignore);
        for (int i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            if (s.Width > size || s.Height > size) throw new InvalidDataException($"{s.Name}: a {s.Width}×{s.Height} crop does not fit the {size}×{size} batch");
            for (int y = 0; y < s.Height; y++)
            {
                Buffer.BlockCopy(s.Pixels, y * s.Width * 3, pixels, ((i * size + y) * size) * 3, s.Width * 3);
                Buffer.BlockCopy(s.Labels, y * s.Width, labels, (i * size + y) * size, s.Width);
            }
        }
        return new SegHostBatch(slot.Epoch, slot.Index, size, pixels, labels, samples.Select(s => s.Width).ToArray(),
                                samples.Select(s => s.Height).ToArray(), samples.Select(s => s.Name).ToArray());
    }

    /// <summary>Normalised images [B,3,S,S] (mmseg's mean/std on 0..255 = ImageNet's on 0..1) with the padding at 0
    /// after normalisation, as mmseg pads, and labels int64 [B,S,S].</summary>
    public (Tensor Images, Tensor Labels) ToTensors(Device device)
    {
        using var scope = NewDisposeScope();
        using var bytes = tensor(Pixels, [Count, Size, Size, 3], dtype: ScalarType.Byte);
        var images = ImageNetStats.Normalize(bytes);
        var valid = zeros(Count, 1, Size, Size);
        for (int i = 0; i < Count; i++) valid[i, .., ..Heights[i], ..Widths[i]] = 1;
        images = images * valid;
        var labels = tensor(Labels, [Count, Size, Size], dtype: ScalarType.Byte).to(ScalarType.Int64);
        return (images.to(device).MoveToOuterDisposeScope(), labels.to(device).MoveToOuterDisposeScope());
    }
}

/// <summary>Training samples: an ADE20K-layout dataset through the training pipeline.</summary>
public sealed class SegTrainSource(Ade20kDataset data, SegPipeline pipeline) : ISampleSource<SegSample>
{
    public int Count => data.Count;
    public string Describe => $"{Path.Combine(data.Root, "images", data.Split)} ({data.Count} images)";
    public SegSample Load(int index, Random rng) => pipeline.Train(data.Load(index), rng);
}
