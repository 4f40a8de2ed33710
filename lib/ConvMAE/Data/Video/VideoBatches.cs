using static TorchSharp.torch;

namespace ConvMAE.Data.Video;

/// <summary>
/// A batch of clips as the loader's workers produce it (managed memory only). Pixels: uint8
/// [Count·Views, Frames, Size, Size, 3], sample-major with a sample's views consecutive (view v = temporal view
/// v / spatialViews, spatial view v % spatialViews, VideoMAE's test order). Views = 1 in training.
/// </summary>
public sealed record VideoHostBatch(int Epoch, int Index, byte[] Pixels, int Count, int Views, int Frames, int Size,
    long[] Labels, int[] SampleIndices) : ConvMAE.Training.IHostBatch;

/// <summary>A batch of clips on the training thread. Dispose it (or create it inside a dispose scope).</summary>
public sealed class VideoBatch : IDisposable
{
    public required int Epoch { get; init; }
    public required int Index { get; init; }
    /// <summary>float [Count·Views, 3, T, S, S], ImageNet mean/std normalised (VideoMAE's IMAGENET_DEFAULT_MEAN/STD).</summary>
    public required Tensor Clips { get; init; }
    /// <summary>int64 [Count].</summary>
    public required Tensor Labels { get; init; }
    public required int Views { get; init; }
    public required int[] SampleIndices { get; init; }
    public int Count => SampleIndices.Length;

    public static VideoBatch FromHost(VideoHostBatch h, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var bytes = tensor(h.Pixels, [(long)h.Count * h.Views, h.Frames, h.Size, h.Size, 3], dtype: uint8);
        if (device is not null && device.type != TorchSharp.DeviceType.CPU) bytes = bytes.to(device); // move bytes: 4× less traffic
        var clips = ImageNetStats.Normalize(bytes);                                                   // [N,3,T,S,S]
        var labels = tensor(h.Labels, dtype: int64, device: clips.device);
        return new VideoBatch
        {
            Epoch = h.Epoch, Index = h.Index, Views = h.Views, SampleIndices = h.SampleIndices,
            Clips = clips.MoveToOuterDisposeScope(), Labels = labels.MoveToOuterDisposeScope(),
        };
    }

    public void Dispose() { Clips.Dispose(); Labels.Dispose(); }
}
