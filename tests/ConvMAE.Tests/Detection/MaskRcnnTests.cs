using ConvMAE.Detection;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Detection;

/// <summary>Mask R-CNN's state layout against detectron2's and ConvViTDet's module names, and its behaviour: five
/// finite losses, learning one image, detections and pasted masks in the original frame.</summary>
public class MaskRcnnTests
{
    internal static MaskRcnnConfig Tiny { get; } = new()
    {
        Backbone = new DetBackboneConfig
        {
            ImgSize = [64, 16, 8], EmbedDim = [16, 24, 32], Depth = [1, 1, 2], NumHeads = 2, WindowSize = 2, GlobalBlocks = [0],
        },
        NumClasses = 3, FpnOutChannels = 32, AnchorSizes = [8, 16, 32, 64, 128], RpnBatchSizePerImage = 64,
        RoiBatchSizePerImage = 64, BoxHeadConvDims = [32, 32], BoxHeadFcDim = 64, MaskHeadConvDims = [32, 32, 32],
        RpnPreNmsTopk = [200, 100], RpnPostNmsTopk = [100, 100],
    };

    [Fact]
    public void State_keys_and_shapes_are_detectron2s_for_the_official_model()
    {
        using var model = new MaskRcnn(MaskRcnnConfig.Base);
        var state = model.state_dict();
        // Names and shapes as detectron2's GeneralizedRCNN + FPN(bottom_up=ConvViTDet) + StandardRPNHead + StandardROIHeads
        // with the official config (4conv1fc box head with norm, 4-conv mask head, 80 classes).
        var expected = new Dictionary<string, long[]>
        {
            ["backbone.bottom_up.patch_embed1.proj.weight"] = [256, 3, 4, 4],
            ["backbone.bottom_up.patch_embed4.weight"] = [768, 768],
            ["backbone.bottom_up.pos_embed"] = [1, 4096, 768],
            ["backbone.bottom_up.blocks3.10.attn.qkv.bias"] = [2304],
            ["backbone.bottom_up.global_rel_pos_bias.relative_position_bias_table"] = [127 * 127, 12],
            ["backbone.bottom_up.global_rel_pos_bias.relative_position_index"] = [4096, 4096],
            ["backbone.bottom_up.windowed_rel_pos_bias.relative_position_bias_table"] = [31 * 31, 12],
            ["backbone.fpn_lateral2.weight"] = [256, 256, 1, 1],
            ["backbone.fpn_lateral3.weight"] = [256, 384, 1, 1],
            ["backbone.fpn_lateral5.weight"] = [256, 768, 1, 1],
            ["backbone.fpn_output4.norm.running_var"] = [256],
            ["proposal_generator.rpn_head.conv.conv0.weight"] = [256, 256, 3, 3],
            ["proposal_generator.rpn_head.conv.conv1.bias"] = [256],
            ["proposal_generator.rpn_head.objectness_logits.weight"] = [3, 256, 1, 1],
            ["proposal_generator.rpn_head.anchor_deltas.weight"] = [12, 256, 1, 1],
            ["roi_heads.box_head.conv4.norm.weight"] = [256],
            ["roi_heads.box_head.fc1.weight"] = [1024, 256 * 7 * 7],
            ["roi_heads.box_predictor.cls_score.weight"] = [81, 1024],
            ["roi_heads.box_predictor.bbox_pred.weight"] = [320, 1024],
            ["roi_heads.mask_head.mask_fcn4.weight"] = [256, 256, 3, 3],
            ["roi_heads.mask_head.deconv.weight"] = [256, 256, 2, 2],
            ["roi_heads.mask_head.predictor.weight"] = [80, 256, 1, 1],
        };
        foreach (var (key, shape) in expected)
        {
            Assert.True(state.ContainsKey(key), $"missing {key}");
            Assert.Equal(shape, state[key].shape);
        }
        // Convolutions followed by a norm have no bias; no final backbone norm; no pixel statistics in the state.
        foreach (var absent in new[] { "backbone.fpn_lateral2.bias", "roi_heads.box_head.conv1.bias", "roi_heads.mask_head.mask_fcn1.bias",
                                       "backbone.bottom_up.norm.weight", "pixel_mean" })
            Assert.False(state.ContainsKey(absent), absent);
        Assert.Equal(6, state.Keys.Count(k => k.StartsWith("roi_heads.mask_head.") && k.EndsWith(".weight") && !k.Contains("norm")));
        Assert.All(state.Keys, k => Assert.Matches(@"^(backbone\.(bottom_up|fpn_(lateral|output)[2-5])|proposal_generator\.rpn_head|roi_heads\.(box_head|box_predictor|mask_head))\.", k));
    }

    static (Tensor Image, ImageTargets Targets) TwoObjects()
    {
        // A grey 64×64 image with a bright 20×12 rectangle (class 0) and a dark 10×10 square (class 2).
        var img = full(1, 3, 64, 64, 128f);
        img[0, .., 10..22, 8..28] = tensor(230f);
        img[0, .., 40..50, 36..46] = tensor(20f);
        var masks = zeros(2, 64, 64, ScalarType.Byte);
        masks[0, 10..22, 8..28] = tensor((byte)1);
        masks[1, 40..50, 36..46] = tensor((byte)1);
        var boxes = tensor(new float[] { 8, 10, 28, 22, 36, 40, 46, 50 }, [2, 4]);
        return (img, new ImageTargets(boxes, tensor(new long[] { 0, 2 }), masks));
    }

    [Fact]
    public void A_tiny_detector_learns_one_image_and_detects_its_objects()
    {
        manual_seed(0);
        using var model = new MaskRcnn(Tiny);
        model.train();
        var (img, targets) = TwoObjects();
        var rng = new Random(0);
        using var opt = optim.AdamW(model.parameters(), lr: 2e-3);
        double first = 0, last = 0;
        for (int step = 0; step < 150; step++)
        {
            using var scope = NewDisposeScope();
            var losses = model.Losses(img, [targets], rng);
            Assert.Equal(["loss_box_reg", "loss_cls", "loss_mask", "loss_rpn_cls", "loss_rpn_loc"], losses.Keys.Order().ToArray());
            var total = losses.Values.Aggregate((a, b) => a + b);
            double v = total.item<float>();
            Assert.True(double.IsFinite(v), $"step {step}: loss {v}");
            if (step == 0) first = v;
            last = v;
            opt.zero_grad();
            total.backward();
            opt.step();
        }
        Assert.True(last < 0.5 * first, $"loss {first:F3} → {last:F3}");

        model.eval();
        var det = model.Detect(img)[0];
        Assert.True(det.Scores.shape[0] is > 0 and <= 100);
        Assert.True(det.Scores.gt(0.05).all().item<bool>());
        // The best detection of each class overlaps its object.
        var classes = det.Classes.data<long>().ToArray();
        foreach (var (cls, gt) in new[] { (0L, 0), (2L, 1) })
        {
            int i = Array.IndexOf(classes, cls);
            Assert.True(i >= 0, $"no detection of class {cls}");
            var iou = BoxOps.PairwiseIou(det.Boxes[i].unsqueeze(0), targets.Boxes[gt].unsqueeze(0)).item<float>();
            Assert.True(iou > 0.5, $"class {cls}: IoU {iou:F2}; loss {first:F3} → {last:F3}; detections: " + string.Join("; ", Enumerable.Range(0, classes.Length).Take(8).Select(j => $"{classes[j]} {det.Scores[j].item<float>():F2} [{string.Join(",", det.Boxes[j].data<float>().ToArray().Select(v => v.ToString("F0")))}]")));
        }
        // In the original frame of a 128×96 image (the input was its resize by 0.5, padded): boxes ×2, masks 96×128.
        var pred = model.Postprocess(det, 96, 128);
        int k = Array.IndexOf(pred.Classes, 2);
        Assert.Equal(96, pred.Masks[k].Height);
        Assert.Equal(128, pred.Masks[k].Width);
        var box = pred.Boxes[k];
        Assert.InRange(box[0], 60, 84); Assert.InRange(box[2], 80, 104);
        var maskBox = pred.Masks[k].ToBbox();                     // the pasted mask sits on the object (x 72..92)
        Assert.InRange(maskBox[0], 60, 84);
        Assert.InRange(maskBox[0] + maskBox[2], 80, 104);
    }
}
