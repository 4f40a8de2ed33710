using ConvMAE.Interop;
using ConvMAE.Recipes;
using ConvMAE.Segmentation;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Segmentation;

public class UperNetTests
{
    [Fact]
    public void Sliding_windows_are_mmsegs_and_overlaps_are_averaged()
    {
        // 10×14 image, crop 6, stride 4: h_grids = (10-6+3)//4+1 = 2, w_grids = (14-6+3)//4+1 = 3; last windows end at the border.
        var windows = SlidingWindow.Windows(10, 14, 6, 4);
        Assert.Equal([(0, 6, 0, 6), (0, 6, 4, 10), (0, 6, 8, 14), (4, 10, 0, 6), (4, 10, 4, 10), (4, 10, 8, 14)], windows);
        // An image smaller than the crop is one window: the whole image.
        Assert.Equal([(0, 5, 0, 7)], SlidingWindow.Windows(5, 7, 8, 4));
        // The ADE20K test setting: a 512×683 image with crop 512 and stride 341 needs two windows.
        Assert.Equal([(0, 512, 0, 512), (0, 512, 171, 683)], SlidingWindow.Windows(512, 683, 512, 341));

        // Each window's "logits" = its index + 1 everywhere, so each pixel's result is the mean index of its windows.
        int k = 0;
        using var img = zeros(1, 3, 10, 14);
        using var result = SlidingWindow.Slide(img, crop => full(1, 2, crop.shape[2], crop.shape[3], ++k), 2, 6, 4);
        var expected = new double[10, 14];
        var count = new int[10, 14];
        for (int i = 0; i < windows.Count; i++)
        {
            var (y1, y2, x1, x2) = windows[i];
            for (int y = y1; y < y2; y++) for (int x = x1; x < x2; x++) { expected[y, x] += i + 1; count[y, x]++; }
        }
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 14; x++)
                Assert.Equal(expected[y, x] / count[y, x], result[0, 1, y, x].item<float>(), 5);
    }

    [Fact]
    public void State_dict_has_mmsegs_names_and_the_parameters_of_the_official_layers()
    {
        using var model = new UperNetSegmenter(SegmenterConfig.ConvMAEBaseAde20k);
        var keys = model.state_dict().Keys.ToHashSet();
        // Names of an official UperNet checkpoint (mmseg EncoderDecoder with this backbone and heads).
        foreach (var key in new[]
        {
            "backbone.patch_embed1.proj.weight", "backbone.pos_embed", "backbone.blocks3.10.gamma_1",
            "backbone.blocks3.10.attn.relative_position_bias_table", "backbone.blocks3.10.attn.relative_position_index",
            "backbone.fpn.0.weight", "backbone.fpn.1.running_var",
            "decode_head.conv_seg.weight", "decode_head.conv_seg.bias", "decode_head.psp_modules.0.1.conv.weight",
            "decode_head.psp_modules.3.1.bn.num_batches_tracked", "decode_head.bottleneck.conv.weight",
            "decode_head.lateral_convs.2.conv.weight", "decode_head.fpn_convs.2.bn.weight", "decode_head.fpn_bottleneck.conv.weight",
            "auxiliary_head.convs.0.conv.weight", "auxiliary_head.convs.0.bn.running_mean", "auxiliary_head.conv_seg.weight",
        })
            Assert.Contains(key, keys);
        Assert.DoesNotContain("decode_head.lateral_convs.3.conv.weight", keys);   // the top level goes through the PPM
        Assert.DoesNotContain(keys, k => k.EndsWith(".conv.bias"));               // ConvModule: no bias before a norm
        Assert.DoesNotContain(keys, k => k.StartsWith("backbone.norm."));        // no final norm
        // Parameters counted by hand from the official layer shapes (E = 256/384/768, depth 2/2/11, 12 heads, 32×32 tokens
        // at 512 px, head channels 768, aux 256, 150 classes). The official README's "153 M" is not this count (it
        // matches none of the obvious subsets); 160.18 M is what the modules hold.
        long d0 = 256, d1 = 384, d = 768, C = 768, A = 256, K = 150;
        long cblock(long c) => 10 * c * c + 37 * c;                                   // norms, conv1/2, 5×5 dw, 1×1 MLP ×4
        long segBlock = 12 * d * d + 15 * d + 63 * 63 * 12;                           // + layer scale, + 63²×12 table
        long backbone = (3 * d0 * 16 + d0 + 2 * d0) + (d0 * d1 * 4 + d1 + 2 * d1) + (d1 * d * 4 + d + 2 * d) + (d * d + d)
                        + 1024 * d + 2 * cblock(d0) + 2 * cblock(d1) + 11 * segBlock + (d * d * 9 + d + 2 * d);
        long convModule(long cin, long cout, long k) => cin * cout * k * k + 2 * cout;
        long head = 4 * convModule(d, C, 1) + convModule(d + 4 * C, C, 3) + convModule(d0, C, 1) + convModule(d1, C, 1) + convModule(d, C, 1)
                    + 3 * convModule(C, C, 3) + convModule(4 * C, C, 3) + (C * K + K);
        long aux = convModule(d, A, 3) + (A * K + K);
        Assert.Equal(backbone + head + aux, model.parameters().Sum(p => p.numel()));
        Assert.Equal(160_175_664, backbone + head + aux);
    }

    [Fact]
    public void An_mmseg_style_checkpoint_loads_strictly_into_the_preset()
    {
        // mmseg saves {"meta": {...}, "state_dict": {...}, "optimizer": {...}}; the kit reads the weights under "state_dict".
        using var dir = TestPaths.Temp();
        var args = new SegmentArgs { Model = "upernet_convmae_tiny_cpu", InputSize = 64, NumClasses = 8 };
        manual_seed(3);
        using var source = new UperNetSegmenter(SegmentationRecipes.Config(args));
        var path = dir.File("iter_160000.pth");
        Checkpoints.SaveTorch(path, new PyDict
        {
            ["meta"] = new PyDict { ["mmseg_version"] = "0.11.0", ["iter"] = 160000L },
            ["state_dict"] = new StateDict(source.state_dict()),
        });
        using var loaded = SegmentationRecipes.Load(path, args);
        foreach (var (k, v) in source.state_dict())
            Assert.True(v.allclose(loaded.state_dict()[k], 0, 0), $"{k} differs after loading");
        // A checkpoint of another shape is refused, naming the file and the key.
        var e = Assert.Throws<CheckpointException>(() => SegmentationRecipes.Load(path, args with { NumClasses = 150 }));
        Assert.Contains("iter_160000.pth", e.Message);
        Assert.Contains("conv_seg", e.Message);
    }
}
