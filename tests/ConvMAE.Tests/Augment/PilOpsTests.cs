using ConvMAE.Data;
using Xunit;
using static ConvMAE.Tests.Augment.Images;

namespace ConvMAE.Tests.Augment;

/// <summary>The Pillow point, enhance and affine ops on hand-made images, with expected values worked out by hand.</summary>
public class PilOpsTests
{
    // R: 10..40 (autocontrast stretches it), G: full range (left alone), B: 1,3,8,8 (shows the truncation).
    static Rgb8Image Strip() => FromPixels(4, 1, (10, 0, 1), (20, 255, 3), (30, 128, 8), (40, 64, 8));

    [Fact]
    public void Invert_posterize_solarize_solarizeadd_follow_their_tables()
    {
        var img = Strip();
        Assert.Equal([245, 255, 254, 235, 0, 252, 225, 127, 247, 215, 191, 247], PilOps.Invert(img).Data.Select(b => (int)b));
        // 2 bits kept: mask 0b11000000.
        Assert.Equal([0, 0, 0, 0, 192, 0, 0, 128, 0, 0, 64, 0], PilOps.Posterize(img, 2).Data.Select(b => (int)b));
        Assert.All(PilOps.Posterize(img, 0).Data, b => Assert.Equal(0, b));
        Assert.Equal(img.Data, PilOps.Posterize(img, 8).Data);
        // threshold 30: 30 and 40 flip (225, 215); G 255 -> 0, 128 -> 127, 64 -> 191.
        Assert.Equal([10, 0, 1, 20, 0, 3, 225, 127, 8, 215, 191, 8], PilOps.Solarize(img, 30).Data.Select(b => (int)b));
        Assert.Equal(img.Data, PilOps.Solarize(img, 256).Data);
        // add 100 below 128, capped: G 0 -> 100, 64 -> 164; 255 and 128 stay.
        Assert.Equal([110, 100, 101, 120, 255, 103, 130, 128, 108, 140, 164, 108], PilOps.SolarizeAdd(img, 100).Data.Select(b => (int)b));
    }

    [Fact]
    public void AutoContrast_stretches_each_channel_and_truncates()
    {
        var o = PilOps.AutoContrast(Strip());
        // R: lo 10, hi 40, scale 8.5. G: already 0..255. B: lo 1, hi 8, scale 255/7: 3 -> int(72.86) = 72, not 73.
        Assert.Equal((0, 0, 0), Px(o, 0, 0));
        Assert.Equal((85, 255, 72), Px(o, 1, 0));
        Assert.Equal((170, 128, 255), Px(o, 2, 0));
        Assert.Equal((255, 64, 255), Px(o, 3, 0));
        var flat = Filled(3, 3, 7, 7, 7);
        Assert.Equal(flat.Data, PilOps.AutoContrast(flat).Data);
    }

    [Fact]
    public void Equalize_uses_Pillows_cumulative_table()
    {
        // 32x32: R = 0 on 512 pixels, 128 on 256, 255 on 256. step = (1024 - 256) // 255 = 3, n starts at 1:
        // lut[0] = 1//3 = 0, lut[128] = 513//3 = 171, lut[255] = 769//3 = 256 -> clipped to 255. G is flat: unchanged.
        var img = new Rgb8Image(32, 32);
        for (int i = 0; i < 1024; i++) { img.Data[3 * i] = (byte)(i < 512 ? 0 : i < 768 ? 128 : 255); img.Data[3 * i + 1] = 77; img.Data[3 * i + 2] = img.Data[3 * i]; }
        var o = PilOps.Equalize(img);
        Assert.Equal((0, 77, 0), Px(o, 0, 0));
        Assert.Equal((171, 77, 171), Px(o, 0, 16));
        Assert.Equal((255, 77, 255), Px(o, 0, 24));
        // Fewer than 256 + last-bin pixels: step is 0 and Pillow leaves the image alone.
        Assert.Equal(Strip().Data, PilOps.Equalize(Strip()).Data);
    }

    [Fact]
    public void Enhance_blends_with_the_degenerate_image()
    {
        var img = FromPixels(2, 1, (200, 100, 50), (10, 20, 30));
        // Brightness 0.5: a + 0.5 (b - a) with a = 0, truncated.
        Assert.Equal([100, 50, 25, 5, 10, 15], PilEnhance.Brightness(img, 0.5).Data.Select(b => (int)b));
        // Brightness 1.5 extrapolates and clips: 300 -> 255.
        Assert.Equal([255, 150, 75, 15, 30, 45], PilEnhance.Brightness(img, 1.5).Data.Select(b => (int)b));
        // Color 0: Pillow's luma (19595 R + 38470 G + 7471 B + 32768) >> 16 = 124 and 18.
        Assert.Equal([124, 124, 124, 18, 18, 18], PilEnhance.Color(img, 0).Data.Select(b => (int)b));
        // Contrast 0: the mean luma, int(71 + 0.5) = 71, everywhere.
        Assert.All(PilEnhance.Contrast(img, 0).Data, b => Assert.Equal(71, b));
        Assert.Equal(img.Data, PilEnhance.Sharpness(img, 0).Data); // 2x1: too small to filter, degenerate = image
    }

    [Fact]
    public void Smooth_filters_the_interior_and_copies_the_border()
    {
        // One 130 pixel in a 3x3 of zeros: centre -> 130 * 5/13 = 50; the border stays.
        var img = new Rgb8Image(3, 3);
        img[1, 1, 0] = 130;
        var o = PilEnhance.Smooth(img);
        Assert.Equal(50, o[1, 1, 0]);
        Assert.Equal(0, o[0, 0, 0]);
        // Sharpness 2 = 2·img − smooth: centre 2·130 − 50 = 210.
        Assert.Equal(210, PilEnhance.Sharpness(img, 2).Data[(1 * 3 + 1) * 3]);
    }

    static readonly byte[] Fill = [9, 8, 7];

    static Rgb8Image Dot(int w, int h, int x, int y)
    {
        var img = new Rgb8Image(w, h);
        img[x, y, 0] = img[x, y, 1] = img[x, y, 2] = 255;
        return img;
    }

    [Theory]
    [InlineData(PilResample.Bilinear)]
    [InlineData(PilResample.Bicubic)]
    public void TranslateXRel_moves_a_pixel_left_by_pct_times_width_and_fills_the_rest(PilResample res)
    {
        var op = new AugmentOp(AugmentOpKind.TranslateXRel, 10, hparams: new AugmentHParams { Fill = Fill, Interpolation = res });
        var img = Dot(10, 6, 6, 2);
        var o = op.ApplyWithArg(img, 0.3, new Random(1)); // 3 pixels: output x samples input x + 3
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 10; x++)
            {
                var expect = x >= 7 ? (9, 8, 7) : (x, y) == (3, 2) ? (255, 255, 255) : (0, 0, 0);
                Assert.Equal(expect, Px(o, x, y));
            }
        var back = op.ApplyWithArg(img, -0.3, new Random(1)); // negative: moves right, fill on the left
        Assert.Equal((255, 255, 255), Px(back, 9, 2));
        Assert.Equal((9, 8, 7), Px(back, 2, 4));
        Assert.Equal((0, 0, 0), Px(back, 3, 4));
    }

    [Fact]
    public void TranslateYRel_moves_by_pct_times_height()
    {
        var op = new AugmentOp(AugmentOpKind.TranslateYRel, 10, hparams: new AugmentHParams { Fill = Fill, Interpolation = PilResample.Bilinear });
        var o = op.ApplyWithArg(Dot(4, 10, 1, 7), 0.5, new Random(1)); // 5 rows up
        Assert.Equal((255, 255, 255), Px(o, 1, 2));
        Assert.Equal((0, 0, 0), Px(o, 1, 4));
        Assert.Equal((9, 8, 7), Px(o, 1, 5));
    }

    [Fact]
    public void ShearX_is_about_the_top_edge_shifting_row_y_by_f_times_y_plus_half()
    {
        // f = 0.5: row y samples x + 0.5 (y + 0.5), i.e. its content moves left by 0.25, 0.75, 1.25, ... pixels
        // (binary fractions, so bilinear values are exact): on a ramp 20·x that reads 20x + 10y + 5.
        var img = new Rgb8Image(9, 5);
        for (int y = 0; y < 5; y++) for (int x = 0; x < 9; x++) for (int c = 0; c < 3; c++) img[x, y, c] = (byte)(20 * x);
        var o = PilAffine.Transform(img, [1, 0.5, 0, 0, 1, 0], PilResample.Bilinear, Fill);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x + 0.5 * (y + 0.5) <= 7; x++) Assert.Equal(20 * x + 10 * y + 5, o[x, y, 0]);
        Assert.Equal((9, 8, 7), Px(o, 8, 4)); // samples x = 8.5 + 2.25, past the right edge
        // So no row is kept, the centre row included: timm shears about the origin, not the centre.
        Assert.Equal(20 * 4 + 25, o[4, 2, 0]);
    }

    [Fact]
    public void ShearY_shifts_column_x_by_f_times_x_plus_half()
    {
        var img = new Rgb8Image(5, 9);
        for (int y = 0; y < 9; y++) for (int x = 0; x < 5; x++) img[x, y, 1] = (byte)(20 * y);
        var o = PilAffine.Transform(img, [1, 0, 0, -0.4, 1, 0], PilResample.Bicubic, Fill);
        for (int y = 1; y < 9; y++) Assert.Equal(20 * (y - 1), o[2, y, 1]);              // column 2 moves down one
        Assert.Equal((9, 8, 7), Px(o, 2, 0));
    }

    [Theory]
    [InlineData(PilResample.Bilinear)]
    [InlineData(PilResample.Bicubic)]
    public void Rotate_at_magnitude_0_is_the_identity_and_180_flips(PilResample res)
    {
        var rng = new Random(5);
        var img = new Rgb8Image(7, 5);
        rng.NextBytes(img.Data);
        var op = new AugmentOp(AugmentOpKind.Rotate, 0, prob: 1.0, hparams: new AugmentHParams { Interpolation = res });
        for (int i = 0; i < 10; i++) Assert.Equal(img.Data, op.Apply(img, rng)!.Data);
        var flipped = PilAffine.Rotate(img, 180, res, Fill);
        Assert.Equal(Px(img, 0, 0), Px(flipped, 6, 4));
        Assert.Equal(Px(img, 2, 1), Px(flipped, 4, 3));
        Assert.Equal(img.Data, PilAffine.Rotate(img, -360, res, Fill).Data);
    }

    [Fact]
    public void Rotate_90_on_a_square_turns_counter_clockwise()
    {
        var img = Dot(6, 6, 5, 0); // top-right corner
        var o = PilAffine.Rotate(img, 90, PilResample.Bilinear, Fill);
        Assert.Equal((255, 255, 255), Px(o, 0, 0)); // counter-clockwise: top-right goes to top-left
        Assert.Equal(255 * 1, o.Data.Sum(b => b) / 3);
    }
}
