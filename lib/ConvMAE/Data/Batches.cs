using static TorchSharp.torch;

namespace ConvMAE.Data;

/// <summary>ImageNet normalisation, as the official transforms.Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD).</summary>
public static class ImageNetStats
{
    public static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    /// <summary>uint8 channels-last [B,H,W,3] (or clips [B,T,H,W,3]) → float channels-first [B,3,H,W] ([B,3,T,H,W]),
    /// (x/255 - mean) / std.</summary>
    public static Tensor Normalize(Tensor bytesNhwc)
    {
        using var scope = NewDisposeScope();
        int rank = (int)bytesNhwc.dim();
        var order = new long[rank];
        order[1] = rank - 1;
        for (int d = 2; d < rank; d++) order[d] = d - 1;                      // [0, last, 1, 2, ...]
        var x = bytesNhwc.permute(order).to(float32).div_(255f);
        var shape = Enumerable.Repeat(1L, rank).ToArray();
        shape[1] = 3;
        var mean = tensor(Mean, device: x.device).view(shape);
        var std = tensor(Std, device: x.device).view(shape);
        return x.sub_(mean).div_(std).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The inverse, for display: float [.,3,H,W] normalised → [0,1].</summary>
    public static Tensor Denormalize(Tensor x)
    {
        using var scope = NewDisposeScope();
        var mean = tensor(Mean, device: x.device).view(3, 1, 1);
        var std = tensor(Std, device: x.device).view(3, 1, 1);
        return (x * std + mean).clamp(0, 1).MoveToOuterDisposeScope();
    }
}

/// <summary>A batch of images as the loader's workers produce it: managed memory only (no native tensors cross threads).
/// Pixels are uint8 [Count, Size, Size, 3].</summary>
public sealed record HostBatch(int Epoch, int Index, byte[] Pixels, int Count, int Size, long[] Labels, int[] SampleIndices)
    : ConvMAE.Training.IHostBatch;

/// <summary>A batch on the training thread. Dispose it (or create it inside a dispose scope).</summary>
public sealed class Batch : IDisposable
{
    public required int Epoch { get; init; }
    /// <summary>Position of this batch in its epoch.</summary>
    public required int Index { get; init; }
    /// <summary>float [B,3,H,W], ImageNet-normalised.</summary>
    public required Tensor Images { get; init; }
    /// <summary>int64 [B].</summary>
    public required Tensor Labels { get; init; }
    /// <summary>Dataset indices of the samples, in batch order.</summary>
    public required int[] SampleIndices { get; init; }

    public int Count => SampleIndices.Length;

    public static Batch FromHost(HostBatch h, Device? device = null)
    {
        using var bytes = tensor(h.Pixels, [h.Count, h.Size, h.Size, 3], dtype: uint8);
        var images = ImageNetStats.Normalize(bytes);
        var labels = tensor(h.Labels, dtype: int64);
        if (device is not null && device.type != TorchSharp.DeviceType.CPU)
        {
            var (i, l) = (images.to(device), labels.to(device));
            images.Dispose(); labels.Dispose();
            (images, labels) = (i, l);
        }
        return new Batch { Epoch = h.Epoch, Index = h.Index, Images = images, Labels = labels, SampleIndices = h.SampleIndices };
    }

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
