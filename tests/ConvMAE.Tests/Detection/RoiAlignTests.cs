using ConvMAE.Detection;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Detection;

/// <summary>The kit's RoIAlign against values worked out by hand from torchvision's roi_align definition. The map is
/// f(y, x) = 4y + x + 1 on a 4×4 grid: bilinear interpolation of a linear function is exact, so each bin is the
/// function at the mean of its (clamped) sample points, times the share of samples that lie in range.</summary>
public class RoiAlignTests
{
    static Tensor Map() => (arange(16, float32) + 1).view(1, 1, 4, 4);

    static float One(Tensor features, double x1, double y1, double x2, double y2, bool aligned, int sampling = 0, double scale = 1, int size = 1)
        => RoiAlign.Forward(features, tensor(new float[] { 0, (float)x1, (float)y1, (float)x2, (float)y2 }, [1, 5]), scale, size, size, sampling, aligned)[0, 0, 0, 0].item<float>();

    [Fact]
    public void Aligned_boxes_shift_by_half_a_pixel_and_the_grid_adapts_to_the_box()
    {
        var f = Map();
        // Box (1,1)-(3,3), aligned: starts at 0.5, size 2 → 2×2 samples at 1.0 and 2.0 → f(1.5, 1.5) = 4·1.5 + 1.5 + 1.
        Assert.Equal(8.5f, One(f, 1, 1, 3, 3, aligned: true), 5);
        // Not aligned: starts at 1, samples at 1.5 and 2.5 → f(2, 2) = 11.
        Assert.Equal(11f, One(f, 1, 1, 3, 3, aligned: false), 5);
        // A fixed sampling ratio of 1: one sample at the bin centre, 1.5 → f(1.5, 1.5) again.
        Assert.Equal(8.5f, One(f, 1, 1, 3, 3, aligned: true, sampling: 1), 5);
        // 2×2 output over (0,0)-(4,4), aligned: bins of 2 px, 2 samples each; bin (0,0) samples rows/cols 0 and 1
        // → f(0.5, 0.5) = 3.5; bin (1,1) samples 2 and 3 → f(2.5, 2.5) = 13.5.
        var o = RoiAlign.Forward(f, tensor(new float[] { 0, 0, 0, 4, 4 }, [1, 5]), 1, 2, 2, 0, aligned: true);
        Assert.Equal(3.5f, o[0, 0, 0, 0].item<float>(), 5);
        Assert.Equal(13.5f, o[0, 0, 1, 1].item<float>(), 5);
        Assert.Equal(5.5f, o[0, 0, 0, 1].item<float>(), 5);     // row 0.5, column 2.5
    }

    [Fact]
    public void Boxes_partly_outside_count_their_out_of_range_samples_as_zero()
    {
        var f = Map();
        // (-2,-2)-(1,1) aligned: starts at -2.5, size 3 → 3 samples per axis at -2, -1, 0. -2 is out of range (< -1);
        // -1 and 0 are clamped to row/column 0. 4 of 9 samples are f(0,0) = 1 → 4/9.
        Assert.Equal(4f / 9, One(f, -2, -2, 1, 1, aligned: true), 5);
        // (3,3)-(5,5): samples at 3 and 4 per axis; 4 is not beyond the size (4), so it is clamped to the last row → all f(3,3) = 16.
        Assert.Equal(16f, One(f, 3, 3, 5, 5, aligned: true), 5);
        // (3,3)-(6,6): samples 3, 4, 5; 5 > 4 drops out → 4 of 9 samples at 16.
        Assert.Equal(64f / 9, One(f, 3, 3, 6, 6, aligned: true), 5);
        // An empty box (aligned: no size clamp) has a grid of 0 samples → 0.
        Assert.Equal(0f, One(f, 2, 2, 2, 2, aligned: true), 5);
    }

    [Fact]
    public void Spatial_scale_batches_channels_and_the_gradient()
    {
        // Two images, two channels; the second channel of image 1 is 10·f. Box in input coordinates ×0.5 = (1,1)-(3,3).
        var f = cat([Map(), Map() * 2, Map() * 3, Map() * 10], 1).view(2, 2, 4, 4).detach().requires_grad_(true);
        var rois = tensor(new float[] { 1, 2, 2, 6, 6, 0, 2, 2, 6, 6 }, [2, 5]);
        var o = RoiAlign.Forward(f, rois, 0.5, 1, 1, 0, aligned: true);
        Assert.Equal([2L, 2, 1, 1], o.shape);
        Assert.Equal(8.5f * 10, o[0, 1, 0, 0].item<float>(), 4);
        Assert.Equal(8.5f * 3, o[0, 0, 0, 0].item<float>(), 4);
        Assert.Equal(8.5f * 2, o[1, 1, 0, 0].item<float>(), 4);
        // d(sum)/d(feature): each of the 4 sampled pixels (1..2, 1..2) gets 1/4 per RoI that reads it.
        o.sum().backward();
        var g = f.grad!;
        Assert.Equal(0.25f, g[1, 0, 1, 1].item<float>(), 6);
        Assert.Equal(0.25f, g[0, 1, 2, 2].item<float>(), 6);
        Assert.Equal(0f, g[0, 0, 0, 0].item<float>(), 6);
        Assert.Equal(1f, g[0, 0].sum().item<float>(), 5);
    }

    [Fact]
    public void Boxes_go_to_the_pyramid_level_of_their_size()
    {
        // floor(4 + log2(√area / 224)) clamped to 2..5: 224 → p4, 112 → p3, 1000 → p5, 20 → p2. Each level is a constant map
        // of its own index, so the pooled value names the level.
        var features = Enumerable.Range(0, 4).Select(l => full(1, 1, 256 >> l, 256 >> l, (float)(l + 2))).ToArray();
        Tensor B(double s) => tensor(new float[] { 0, 0, (float)s, (float)s }, [1, 4]);
        var pooled = MultiLevelRoiPooler.Pool(features, [cat([B(224), B(112), B(1000), B(20)], 0)], [4, 8, 16, 32], 2);
        var levels = pooled[.., 0, 0, 0].data<float>().ToArray();
        Assert.Equal([4.0, 3, 5, 2], levels.Select(v => Math.Round(v, 4)).ToArray());
    }
}
