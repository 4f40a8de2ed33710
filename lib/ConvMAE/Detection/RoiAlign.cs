using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>
/// RoIAlign, the kit's own (TorchSharp has none), computing what torchvision's roi_align computes (detectron2's
/// ROIAlign / ROIAlignV2): each output bin averages roi_bin_grid_h × roi_bin_grid_w bilinear samples, the grid being
/// sampling_ratio or, for 0, ceil(roi size / output size) per RoI. With <c>aligned</c> (ROIAlignV2) box corners are
/// shifted by -0.5 so that pixel centres sit at integer+0.5 and RoI sizes are not clamped to ≥ 1. Samples beyond
/// (-1, size) on either axis contribute 0 but still count in the average; samples in [-1, 0] are clamped to 0 and those
/// past the last row/column to it, as torchvision does.
///
/// Bilinear sampling followed by averaging is linear in the feature map and separable in y and x, so each output
/// cell is a weighted sum over a small window of pixels with weight wy(row)·wx(col). The weights are computed here
/// (on the CPU, RoIs carry no gradient, as in detectron2 where proposals are detached), the pixels gathered with one
/// index_select and summed with index_add: autograd gives the exact gradient for the features.
/// </summary>
public static class RoiAlign
{
    /// <param name="features">[B, C, H, W].</param>
    /// <param name="rois">[R, 5] float: batch index, x1, y1, x2, y2 in input-image coordinates.</param>
    /// <returns>[R, C, outH, outW].</returns>
    public static Tensor Forward(Tensor features, Tensor rois, double spatialScale, int outH, int outW, int samplingRatio, bool aligned)
    {
        long B = features.shape[0], C = features.shape[1];
        int H = (int)features.shape[2], W = (int)features.shape[3];
        int R = (int)rois.shape[0];
        if (R == 0) return zeros([0, C, outH, outW], features.dtype);
        var r = rois.detach().to(float64).cpu().ToHost<double>();
        var pixel = new List<long>();
        var cell = new List<long>();
        var weight = new List<float>();
        var wy = new Dictionary<int, double>();
        var wx = new Dictionary<int, double>();
        for (int i = 0; i < R; i++)
        {
            long b = (long)r[i * 5];
            if (b < 0 || b >= B) throw new ArgumentException($"RoI {i} names image {b} of a batch of {B}");
            double offset = aligned ? 0.5 : 0;
            double x0 = r[i * 5 + 1] * spatialScale - offset, y0 = r[i * 5 + 2] * spatialScale - offset;
            double rw = r[i * 5 + 3] * spatialScale - offset - x0, rh = r[i * 5 + 4] * spatialScale - offset - y0;
            if (!aligned) { rw = Math.Max(rw, 1); rh = Math.Max(rh, 1); }
            double binH = rh / outH, binW = rw / outW;
            int gh = samplingRatio > 0 ? samplingRatio : (int)Math.Ceiling(rh / outH);
            int gw = samplingRatio > 0 ? samplingRatio : (int)Math.Ceiling(rw / outW);
            double count = Math.Max(gh * gw, 1);
            for (int ph = 0; ph < outH; ph++)
            {
                AxisWeights(wy, y0 + ph * binH, binH, gh, H);
                for (int pw = 0; pw < outW; pw++)
                {
                    AxisWeights(wx, x0 + pw * binW, binW, gw, W);
                    long c = ((long)i * outH + ph) * outW + pw;
                    foreach (var (row, a) in wy)
                        foreach (var (col, bw) in wx)
                        {
                            pixel.Add((b * H + row) * W + col);
                            cell.Add(c);
                            weight.Add((float)(a * bw / count));
                        }
                }
            }
        }
        var flat = features.permute(0, 2, 3, 1).reshape(B * H * W, C);                 // [B·H·W, C]
        using var pixelIdx = tensor(pixel.ToArray(), device: features.device);
        using var cellIdx = tensor(cell.ToArray(), device: features.device);
        using var w = tensor(weight.ToArray(), device: features.device).to(features.dtype).unsqueeze(1);
        var gathered = flat.index_select(0, pixelIdx) * w;                              // [N, C]
        var cells = zeros([(long)R * outH * outW, C], features.dtype, features.device).index_add(0, cellIdx, gathered, 1);
        return cells.view(R, outH, outW, C).permute(0, 3, 1, 2).contiguous();
    }

    /// <summary>The summed bilinear weights per pixel index along one axis for a bin starting at <paramref name="start"/>:
    /// samples at start + (k + 0.5)·bin/grid, k &lt; grid. Out-of-range samples (&lt; -1 or &gt; size) add nothing.</summary>
    static void AxisWeights(Dictionary<int, double> weights, double start, double bin, int grid, int size)
    {
        weights.Clear();
        for (int k = 0; k < grid; k++)
        {
            double v = start + (k + .5) * bin / grid;
            if (v < -1.0 || v > size) continue;
            if (v <= 0) v = 0;
            int low = (int)v, high;
            if (low >= size - 1) { high = low = size - 1; v = low; }
            else high = low + 1;
            double l = v - low;
            weights[low] = weights.GetValueOrDefault(low) + (1 - l);
            if (l > 0) weights[high] = weights.GetValueOrDefault(high) + l;
        }
    }
}
