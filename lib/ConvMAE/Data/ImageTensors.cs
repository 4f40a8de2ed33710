using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace ConvMAE.Data;

/// <summary>Conversions between image tensors ([3,H,W] or [H,W], float) and ImageSharp images.</summary>
public static class ImageTensors
{
    /// <summary>True for tensors that read as an image: floating point, [H,W], [1,H,W] or [3,H,W], both sides ≥ 8.</summary>
    public static bool IsImageLike(Tensor t) =>
        t.is_floating_point() && (t.dim() == 2 || (t.dim() == 3 && (t.shape[0] == 1 || t.shape[0] == 3)))
        && t.shape[^1] >= 8 && t.shape[^2] >= 8;

    /// <summary>
    /// An image-like tensor as displayable RGB: float32 [3,H,W] on the CPU, in [0,1]. Values already in [0,1] are taken
    /// as they are; any other range is min-max scaled (so a normalised or unbounded tensor still shows its structure).
    /// </summary>
    public static Tensor ToDisplayRgb(Tensor t)
    {
        if (!IsImageLike(t)) throw new ArgumentException($"expected a float [3,H,W] or [H,W] tensor, got {t.dtype} [{string.Join(",", t.shape)}]");
        using var scope = NewDisposeScope();
        var x = t.detach().to(float32).cpu();
        if (x.dim() == 2) x = x.unsqueeze(0);
        if (x.shape[0] == 1) x = x.expand(3, -1, -1);
        float lo = x.min().item<float>(), hi = x.max().item<float>();
        if (lo < 0f || hi > 1f) x = (x - lo) / Math.Max(hi - lo, 1e-12f);
        return x.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>To 8-bit RGB, scaled as <see cref="ToDisplayRgb"/>.</summary>
    public static Image<Rgb24> ToImage(Tensor t)
    {
        using var scope = NewDisposeScope();
        var x = ToDisplayRgb(t);
        var bytes = (x.clamp(0, 1) * 255f).round().to(uint8).permute(1, 2, 0).contiguous().data<byte>().ToArray();
        return Image.LoadPixelData<Rgb24>(bytes, (int)x.shape[2], (int)x.shape[1]);
    }

    public static byte[] ToPng(Tensor t)
    {
        using var img = ToImage(t);
        using var ms = new MemoryStream();
        img.SaveAsPng(ms);
        return ms.ToArray();
    }
}
