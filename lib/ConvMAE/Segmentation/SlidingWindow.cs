using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>
/// mmseg's EncoderDecoder inference (0.x): slide mode runs the model on crop×crop windows every stride pixels
/// (the last window in each direction is moved back to end at the border), adds each window's logits into place
/// and divides by how many windows covered each pixel; whole mode runs the image at once. Both return logits
/// [B, K, H, W] at the input's size (the caller resizes to the original image, as rescale=True does).
/// </summary>
public static class SlidingWindow
{
    /// <summary>The windows (y1, y2, x1, x2) mmseg's slide_inference visits for an h×w image.</summary>
    public static List<(int Y1, int Y2, int X1, int X2)> Windows(int h, int w, int crop, int stride)
    {
        int hGrids = Math.Max(h - crop + stride - 1, 0) / stride + 1, wGrids = Math.Max(w - crop + stride - 1, 0) / stride + 1;
        var windows = new List<(int, int, int, int)>();
        for (int hi = 0; hi < hGrids; hi++)
            for (int wi = 0; wi < wGrids; wi++)
            {
                int y1 = hi * stride, x1 = wi * stride;
                int y2 = Math.Min(y1 + crop, h), x2 = Math.Min(x1 + crop, w);
                y1 = Math.Max(y2 - crop, 0);
                x1 = Math.Max(x2 - crop, 0);
                windows.Add((y1, y2, x1, x2));
            }
        return windows;
    }

    /// <param name="images">[B,3,H,W] normalised.</param>
    /// <param name="encodeDecode">The model: [B,3,h,w] → logits [B,K,h,w] (mmseg's encode_decode).</param>
    public static Tensor Slide(Tensor images, Func<Tensor, Tensor> encodeDecode, int numClasses, int crop, int stride)
    {
        using var scope = NewDisposeScope();
        long B = images.shape[0];
        int h = (int)images.shape[2], w = (int)images.shape[3];
        var preds = zeros(B, numClasses, h, w, device: images.device);
        var count = zeros(B, 1, h, w, device: images.device);
        foreach (var (y1, y2, x1, x2) in Windows(h, w, crop, stride))
        {
            using var inner = NewDisposeScope();
            var logits = encodeDecode(images[.., .., y1..y2, x1..x2]).to(float32);
            preds[.., .., y1..y2, x1..x2].add_(logits);
            count[.., .., y1..y2, x1..x2].add_(1);
        }
        return (preds / count).MoveToOuterDisposeScope();
    }

    public static Tensor Whole(Tensor images, Func<Tensor, Tensor> encodeDecode) => encodeDecode(images).to(float32);
}
