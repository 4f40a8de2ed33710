using ConvMAE.Interactive;
using Microsoft.DotNet.Interactive.Formatting;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Interactive;

public class FormatterTests
{
    public FormatterTests() => ConvMAE.NativeTorch.EnsureLoaded();

    [Fact]
    public void Each_tensor_kind_gets_its_form()
    {
        Assert.Equal(TensorFormatters.Form.Table, TensorFormatters.FormOf(tensor(3.5f)));
        Assert.Equal(TensorFormatters.Form.Table, TensorFormatters.FormOf(arange(8)));
        Assert.Equal(TensorFormatters.Form.Table, TensorFormatters.FormOf(zeros(8, 8)));          // 64 elements
        Assert.Equal(TensorFormatters.Form.Image, TensorFormatters.FormOf(zeros(3, 32, 32)));
        Assert.Equal(TensorFormatters.Form.Image, TensorFormatters.FormOf(zeros(1, 32, 32)));
        Assert.Equal(TensorFormatters.Form.Heatmap, TensorFormatters.FormOf(zeros(9, 9)));        // 81 elements
        Assert.Equal(TensorFormatters.Form.Heatmap, TensorFormatters.FormOf(zeros(14, 14, dtype: int64)));
        Assert.Equal(TensorFormatters.Form.Summary, TensorFormatters.FormOf(zeros(2, 3, 4, 5)));
        Assert.Equal(TensorFormatters.Form.Summary, TensorFormatters.FormOf(zeros(5, 16, 16)));   // five channels: not an image
    }

    [Fact]
    public void A_small_tensor_is_a_table_of_its_values_under_shape_dtype_and_device()
    {
        var html = TensorFormatters.Html(tensor(new float[] { 1.5f, -2f, 0.25f, 7f }).view(2, 2));
        Assert.Contains("Tensor [2, 2] Float32 on cpu", html);
        Assert.Equal(2, Count(html, "<tr>"));
        foreach (var v in new[] { ">1.5<", ">-2<", ">0.25<", ">7<" }) Assert.Contains(v, html);
        var bools = TensorFormatters.Html(tensor(new[] { true, false }));
        Assert.Contains(">true<", bools);
        Assert.Contains(">false<", bools);
        Assert.Contains("Bool", bools);
    }

    [Fact]
    public void Heatmap_colours_follow_viridis_from_min_to_max()
    {
        // Values 0..3 → u = 0, 1/3, 2/3, 1. Viridis samples (68,1,84) ... (253,231,37) at eight stops;
        // u = 1/3 lies a third of the way from stop 2 (54,92,141) to stop 3 (39,127,142): (49,104,141).
        var (img, lo, hi) = Heatmap.Render(tensor(new float[] { 0, 1, 2, 3 }).view(2, 2));
        using (img)
        {
            Assert.Equal((0.0, 3.0), (lo, hi));
            Assert.Equal(new Rgb24(68, 1, 84), img[0, 0]);
            Assert.Equal(new Rgb24(49, 104, 141), img[1, 0]);
            Assert.Equal(new Rgb24(253, 231, 37), img[1, 1]);
        }
        var (withNan, lo2, hi2) = Heatmap.Render(tensor(new[] { double.NaN, 2, 4, 6 }).view(2, 2));
        using (withNan)
        {
            Assert.Equal((2.0, 6.0), (lo2, hi2));                 // NaN left out of the range
            Assert.Equal(Heatmap.Missing, withNan[0, 0]);
        }
        var html = TensorFormatters.Html(zeros(10, 12));
        Assert.Contains("convmae-heatmap", html);
        Assert.Contains("Tensor [10, 12] Float32 on cpu", html);
    }

    [Fact]
    public void A_token_mask_tints_exactly_its_removed_blocks()
    {
        var image = full(3, 32, 32, 0.5f);
        var mask = tensor(new float[] { 1, 0, 0, 0 });          // 2×2 tokens of 16 px: top-left removed
        using var shown = new MaskOverlay(image, mask).Render();
        // removed: 0.5·(1 - 0.6) + 0.6 = 0.8 red, 0.2 green and blue; kept: unchanged.
        Assert.Equal(0.8f, shown[0, 3, 3].item<float>(), 5);
        Assert.Equal(0.2f, shown[1, 15, 15].item<float>(), 5);
        Assert.Equal(0.5f, shown[0, 3, 16].item<float>(), 5);
        Assert.Equal(0.5f, shown[2, 20, 20].item<float>(), 5);
        Assert.Contains("data:image/png", new MaskOverlay(image, mask.view(2, 2), "m").Html());
        var e = Assert.Throws<ArgumentException>(() => new MaskOverlay(image, ones(3, 3)).Render());
        Assert.Contains("does not tile", e.Message);
        Assert.Throws<ArgumentException>(() => new MaskOverlay(image, ones(5)).Render());
    }

    [Fact]
    public void Registered_formatters_render_tensors_and_ImageSharp_images_as_html()
    {
        TensorFormatters.Register();
        using var img = new Image<Rgb24>(20, 10);
        var html = img.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("data:image/png;base64,", html);
        Assert.Contains("Image 20×10", System.Net.WebUtility.HtmlDecode(html));
        Assert.Contains("convmae-heatmap", zeros(20, 20).ToDisplayString(HtmlFormatter.MimeType));
        Assert.Contains("convmae-image", zeros(3, 16, 16).ToDisplayString(HtmlFormatter.MimeType));
    }

    [Fact]
    public void A_table_has_a_column_per_property_and_a_row_per_item()
    {
        var t = Table.Of(new[] { new { Arm = "baseline", Top1 = 37.75, Kept = 49 }, new { Arm = "no <conv>", Top1 = double.NaN, Kept = 12 } });
        Assert.Equal(["Arm", "Top1", "Kept"], t.Columns);
        var html = t.Html();
        Assert.Equal(3, Count(html, "<tr>"));
        Assert.Contains(">37.75<", html);
        Assert.Contains("no &lt;conv&gt;", html);                 // encoded
        Assert.Contains(">–<", html);                             // NaN shown as a dash
        Assert.Equal("Arm\tTop1\tKept\nbaseline\t37.75\t49\nno <conv>\t–\t12", t.ToString());
    }

    static int Count(string s, string sub) => (s.Length - s.Replace(sub, "").Length) / sub.Length;
}
