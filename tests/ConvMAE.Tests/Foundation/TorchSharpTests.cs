using ConvMAE.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Foundation;

/// <summary>libtorch computes through TorchSharp, checked against arithmetic done in C#.</summary>
public class TorchSharpTests
{
    [Fact]
    public void Matrix_product_matches_a_CSharp_triple_loop()
    {
        manual_seed(1);
        using var a = randn(7, 5);
        using var b = randn(5, 3);
        using var c = a.matmul(b);
        var A = a.data<float>().ToArray(); var B = b.data<float>().ToArray(); var C = c.data<float>().ToArray();
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 3; j++)
            {
                double s = 0;
                for (int k = 0; k < 5; k++) s += A[i * 5 + k] * B[k * 3 + j];
                Assert.Equal(s, C[i * 3 + j], 4);
            }
    }

    [Fact]
    public void Depthwise_5x5_convolution_sums_the_neighbourhood()
    {
        // Channel c holds the value c+1 everywhere; an all-ones 5x5 depthwise kernel with padding 2 sums the
        // 25 neighbours in the interior and fewer at the border (corner: 3x3 = 9 of them).
        using var x = arange(1, 5, dtype: float32).view(1, 4, 1, 1).expand(1, 4, 9, 9).contiguous();
        using var w = ones(4, 1, 5, 5);
        using var y = nn.functional.conv2d(x, w, padding: [2, 2], groups: 4);
        for (int c = 0; c < 4; c++)
        {
            Assert.Equal(25f * (c + 1), y[0, c, 4, 4].item<float>());
            Assert.Equal(9f * (c + 1), y[0, c, 0, 0].item<float>());
            Assert.Equal(15f * (c + 1), y[0, c, 0, 4].item<float>());
        }
    }

    [Fact]
    public void Seeded_generation_is_deterministic()
    {
        manual_seed(42);
        using var a = rand(100);
        manual_seed(42);
        using var b = rand(100);
        Assert.Equal(a.data<float>().ToArray(), b.data<float>().ToArray());
        Assert.InRange(a.min().item<float>(), 0f, 1f);
    }

    [Fact]
    public void Image_tensor_round_trips_through_PNG()
    {
        // [3,H,W] in [0,1] -> PNG -> pixels: each channel is value*255 rounded.
        using var t = stack([linspace(0, 1, 16).view(1, 16).expand(8, 16), zeros(8, 16), ones(8, 16) * 0.5]);
        var png = ImageTensors.ToPng(t);
        using var img = Image.Load<Rgb24>(png);
        Assert.Equal((16, 8), (img.Width, img.Height));
        Assert.Equal(new Rgb24(0, 0, 128), img[0, 0]);
        Assert.Equal(new Rgb24(255, 0, 128), img[15, 7]);
        Assert.Equal((byte)Math.Round(5 / 15.0 * 255), img[5, 3].R);
    }

    [Fact]
    public void Grey_image_outside_unit_range_is_min_max_scaled()
    {
        using var t = arange(64, dtype: float32).view(8, 8) - 10;   // -10 .. 53
        using var img = ImageTensors.ToImage(t);
        Assert.Equal(new Rgb24(0, 0, 0), img[0, 0]);
        Assert.Equal(new Rgb24(255, 255, 255), img[7, 7]);
        Assert.False(ImageTensors.IsImageLike(zeros(4, 4)));            // too small to be an image
        Assert.False(ImageTensors.IsImageLike(zeros(2, 16, 16)));       // two channels
        Assert.False(ImageTensors.IsImageLike(zeros(16, 16, dtype: int64)));
    }
}
