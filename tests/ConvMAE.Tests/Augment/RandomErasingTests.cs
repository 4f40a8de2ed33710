using ConvMAE.Data;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Augment;

/// <summary>timm's RandomErasing: box geometry, probability, count, fill modes and determinism.</summary>
public class RandomErasingTests
{
    [Fact]
    public void Boxes_respect_area_aspect_and_image_bounds()
    {
        var re = new RandomErasing(probability: 1.0, mode: EraseMode.Pixel);
        var rng = new Random(7);
        const int H = 224, W = 160;
        double area = H * W;
        var boxes = Enumerable.Range(0, 3000).SelectMany(_ => re.SampleBoxes(H, W, rng)).ToList();
        Assert.InRange(boxes.Count, 2950, 3000); // 10 attempts almost always find a fit
        foreach (var b in boxes)
        {
            Assert.InRange(b.Top, 0, H - b.Height);
            Assert.InRange(b.Left, 0, W - b.Width);
            Assert.True(b.Height < H && b.Width < W);
            // h, w are √(A·r), √(A/r) rounded: area within rounding of [0.02, 1/3]·HW, aspect within [0.3, 1/0.3].
            Assert.InRange(b.Height * b.Width, 0.02 * area * 0.93, area / 3 * 1.04);
            Assert.InRange((double)b.Height / b.Width, 0.3 * 0.93, 1 / 0.3 * 1.07);
        }
        // The uniform area draw shows: about half the boxes above the midpoint of the range (fewer, since big
        // elongated boxes fail to fit and get redrawn).
        double mid = (0.02 + 1.0 / 3) / 2 * area;
        Assert.InRange(boxes.Count(b => b.Height * b.Width > mid) / (double)boxes.Count, 0.35, 0.52);
    }

    [Fact]
    public void Probability_is_respected_over_many_images()
    {
        var re = new RandomErasing(probability: 0.25);
        var rng = new Random(3);
        int erased = Enumerable.Range(0, 8000).Count(_ => re.SampleBoxes(64, 64, rng).Count > 0);
        Assert.InRange(erased / 8000.0, 0.23, 0.27);
        Assert.Empty(new RandomErasing(probability: 0).SampleBoxes(64, 64, rng));
    }

    [Fact]
    public void Several_boxes_share_the_area_budget()
    {
        var re = new RandomErasing(probability: 1.0, minArea: 0.3, maxArea: 0.3, maxCount: 3);
        var rng = new Random(5);
        var counts = new int[4];
        for (int i = 0; i < 3000; i++)
        {
            var boxes = re.SampleBoxes(100, 100, rng);
            counts[boxes.Count]++;
            foreach (var b in boxes) Assert.InRange(b.Height * b.Width, 3000.0 / boxes.Count * 0.93, 3000.0 / boxes.Count * 1.07);
        }
        Assert.Equal(0, counts[0]);
        Assert.All(counts.Skip(1), c => Assert.InRange(c, 900, 1100)); // randint(1, 3)
    }

    static bool Same(Tensor a, Tensor b) => a.eq(b).all().item<bool>();

    static Tensor Ramp(int c, int h, int w) => arange(c * h * w, dtype: ScalarType.Float32).reshape(c, h, w) / 100f;

    [Fact]
    public void Const_mode_zeroes_exactly_the_boxes()
    {
        var re = new RandomErasing(probability: 1.0, mode: EraseMode.Const);
        using var img = Ramp(3, 40, 30);
        using var before = img.clone();
        var boxes = re.EraseImage(img, new Random(2));
        var b = Assert.Single(boxes);
        using var mask = zeros(40, 30, dtype: ScalarType.Bool);
        mask.narrow(0, b.Top, b.Height).narrow(1, b.Left, b.Width).fill_(true);
        using var expected = before.masked_fill(mask, 0f);
        Assert.True(Same(expected, img));
    }

    [Fact]
    public void Pixel_mode_fills_standard_normal_noise_and_rand_mode_one_colour_per_channel()
    {
        var pixel = new RandomErasing(probability: 1.0, minArea: 0.3, maxArea: 0.3, mode: EraseMode.Pixel);
        using var img = full(3, 100, 100, 5f);
        var b = Assert.Single(pixel.EraseImage(img, new Random(9)));
        using var region = img.narrow(1, b.Top, b.Height).narrow(2, b.Left, b.Width);
        Assert.InRange(region.mean().item<float>(), -0.05f, 0.05f);
        Assert.InRange(region.std().item<float>(), 0.95f, 1.05f);
        Assert.Equal(100 * 100 * 3 - region.numel(), img.eq(5f).sum().item<long>());

        var rand = new RandomErasing(probability: 1.0, mode: EraseMode.Rand);
        using var img2 = full(3, 50, 50, 5f);
        var b2 = Assert.Single(rand.EraseImage(img2, new Random(4)));
        using var r2 = img2.narrow(1, b2.Top, b2.Height).narrow(2, b2.Left, b2.Width).reshape(3, -1);
        using var spread = r2.max(1).values - r2.min(1).values;
        Assert.Equal(0f, spread.max().item<float>());
        Assert.NotEqual(r2[0, 0].item<float>(), r2[1, 0].item<float>());
    }

    [Fact]
    public void Batches_are_deterministic_per_Random_and_the_clean_split_is_skipped()
    {
        var re = RandomErasing.ForTimmTransform(1.0, "pixel", 1, reNumSplits: 2);
        Assert.Equal(EraseMode.Pixel, re.Mode);
        using var a = Ramp(4 * 3, 16, 16).reshape(4, 3, 16, 16);
        using var b = a.clone();
        using var orig = a.clone();
        re.Apply(a, [new Random(1), new Random(2), new Random(3), new Random(4)]);
        re.Apply(b, [new Random(9), new Random(9), new Random(3), new Random(4)]);
        Assert.True(Same(a, b));                       // samples 0,1 skipped; 2,3 same seeds
        Assert.True(Same(a.narrow(0, 0, 2), orig.narrow(0, 0, 2)));
        Assert.False(Same(a[2], orig[2]));

        // One sample with its own Random erases as that image alone would.
        using var single = orig[3].clone();
        new RandomErasing(1.0, mode: EraseMode.Pixel).EraseImage(single, new Random(4));
        Assert.True(Same(single, a[3]));

        // The one-Random overload goes sample by sample.
        using var c = orig.clone();
        using var d = orig.clone();
        re.Apply(c, new Random(12));
        re.Apply(d, new Random(12));
        Assert.True(Same(c, d));
    }
}
