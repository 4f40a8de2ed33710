using ConvMAE.Data.Coco;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>One image's detections in its original frame: boxes x1,y1,x2,y2, scores, contiguous classes, masks as RLE.</summary>
public sealed record ImagePrediction(double[][] Boxes, double[] Scores, int[] Classes, Rle[] Masks);

/// <summary>
/// Mask R-CNN as the official config builds it (GeneralizedRCNNImageListForward with lsj_postprocess): keys
/// backbone.bottom_up.* (ConvViTDet), backbone.fpn_*, proposal_generator.rpn_head.*, roi_heads.box_head.*,
/// roi_heads.box_predictor.*, roi_heads.mask_head.*, as an official detectron2 checkpoint's "model".
/// pixel_mean/pixel_std are not state (detectron2 registers them non-persistent).
/// </summary>
public sealed class MaskRcnn : nn.Module
{
    public MaskRcnnConfig Config { get; }
    [ComponentName(Name = "backbone")] public readonly FpnBackbone Backbone;
    [ComponentName(Name = "proposal_generator")] public readonly Rpn ProposalGenerator;
    [ComponentName(Name = "roi_heads")] public readonly RoiHeads RoiHeadsModule;
    readonly Tensor[] pixelStats;   // mean, std [1,3,1,1]; an array so that they are not registered as state

    public MaskRcnn(MaskRcnnConfig config) : base(nameof(MaskRcnn))
    {
        Config = config.Validate();
        Backbone = new FpnBackbone(new ConvViTDet(config.Backbone), config.FpnOutChannels);
        ProposalGenerator = new Rpn(config, Backbone.Strides);
        RoiHeadsModule = new RoiHeads(config, Backbone.Strides);
        pixelStats = [tensor(config.PixelMean.Select(v => (float)v).ToArray()).view(1, 3, 1, 1).DetachFromDisposeScope(),
                      tensor(config.PixelStd.Select(v => (float)v).ToArray()).view(1, 3, 1, 1).DetachFromDisposeScope()];
        RegisterComponents();
    }

    /// <summary>(x − mean) / std of [B,3,S,S] RGB in 0..255 (padding included, as detectron2 normalises the padded image).</summary>
    public Tensor Normalize(Tensor images) => (images.to(float32) - pixelStats[0].to(images.device)) / pixelStats[1].to(images.device);

    /// <summary>The pyramid p2..p6 of normalised images, in the weights' dtype (bf16 under mixed precision; RoIAlign keeps
    /// it, the box arithmetic, NMS and mask pasting run in float32).</summary>
    public Tensor[] Features(Tensor normalized) => Backbone.call(normalized.to(Backbone.BottomUp.PosEmbed.dtype));

    /// <summary>The five named losses of a batch: loss_rpn_cls, loss_rpn_loc, loss_cls, loss_box_reg, loss_mask.</summary>
    public Dictionary<string, Tensor> Losses(Tensor images, ImageTargets[] targets, Random rng)
    {
        var features = Features(Normalize(images));
        var (proposals, losses) = ProposalGenerator.Forward(features, Config.ImageSize, targets, rng);
        foreach (var (k, v) in RoiHeadsModule.Losses(features, proposals, targets, rng)) losses[k] = v;
        return losses;
    }

    /// <summary>Detections in the S×S input frame (the model should be in eval mode).</summary>
    public Detections[] Detect(Tensor images)
    {
        using var guard = NativeCallGuard.Enter();   // called from notebooks and hooks, outside the trainer's guarded step
        using var _ = no_grad();
        var features = Features(Normalize(images));
        var (proposals, _) = ProposalGenerator.Forward(features, Config.ImageSize, null, new Random(0));
        return RoiHeadsModule.Inference(features, proposals, Config.ImageSize);
    }

    /// <summary>
    /// DET/models/modeling/postprocessing.py detector_postprocess for LSJ: boxes scaled by max(W/S, H/S) (the test
    /// transform resized the longer side to S and padded), clipped to the original H×W, empty boxes dropped; masks pasted
    /// into the image (detectron2's paste_masks_in_image: bilinear grid sampling of the 28×28 probabilities, ≥ 0.5).
    /// </summary>
    public ImagePrediction Postprocess(Detections d, int height, int width)
    {
        int S = Config.ImageSize;
        double scale = Math.Max((double)width / S, (double)height / S);
        var boxes = d.Boxes.to(float64).cpu().ToHost<double>();
        var scores = d.Scores.to(float64).cpu().ToHost<double>();
        var classes = d.Classes.to(int64).cpu().ToHost<long>();
        int n = scores.Length;
        var keptBoxes = new List<double[]>(); var keptScores = new List<double>(); var keptClasses = new List<int>(); var masks = new List<Rle>();
        for (int i = 0; i < n; i++)
        {
            double x1 = Math.Clamp(boxes[i * 4] * scale, 0, width), y1 = Math.Clamp(boxes[i * 4 + 1] * scale, 0, height);
            double x2 = Math.Clamp(boxes[i * 4 + 2] * scale, 0, width), y2 = Math.Clamp(boxes[i * 4 + 3] * scale, 0, height);
            if (!(x2 - x1 > 0 && y2 - y1 > 0)) continue;
            keptBoxes.Add([x1, y1, x2, y2]); keptScores.Add(scores[i]); keptClasses.Add((int)classes[i]);
            masks.Add(d.MaskProbs is null ? new Rle(height, width, [(uint)(height * width)]) : PasteMask(d.MaskProbs[i], x1, y1, x2, y2, height, width));
        }
        return new ImagePrediction([.. keptBoxes], [.. keptScores], [.. keptClasses], [.. masks]);
    }

    /// <summary>_do_paste_mask for one mask: grid_sample (bilinear, zeros outside, align_corners False) at the pixel
    /// centres of the region one pixel around the box, thresholded at 0.5; zero elsewhere.</summary>
    static Rle PasteMask(Tensor probs, double x0, double y0, double x1, double y1, int height, int width)
    {
        using var scope = NewDisposeScope();
        int xa = Math.Max((int)Math.Floor(x0) - 1, 0), ya = Math.Max((int)Math.Floor(y0) - 1, 0);
        int xb = Math.Min((int)Math.Ceiling(x1) + 1, width), yb = Math.Min((int)Math.Ceiling(y1) + 1, height);
        var full = new byte[height * width];
        if (xb > xa && yb > ya)
        {
            var gx = (arange(xa, xb, float32) + 0.5 - x0) / (x1 - x0) * 2 - 1;
            var gy = (arange(ya, yb, float32) + 0.5 - y0) / (y1 - y0) * 2 - 1;
            int h = yb - ya, w = xb - xa;
            var grid = stack([gx.view(1, w).expand(h, w), gy.view(h, 1).expand(h, w)], 2).unsqueeze(0);   // [1,h,w,2]
            var sampled = nn.functional.grid_sample(probs.view(1, 1, probs.shape[0], probs.shape[1]).to(float32), grid,
                                                    mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Zeros, align_corners: false);
            var on = sampled.view(h, w).ge(0.5).to(ScalarType.Byte).contiguous().ToHost<byte>();
            for (int y = 0; y < h; y++) Buffer.BlockCopy(on, y * w, full, (ya + y) * width + xa, w);
        }
        return Rle.Encode(full, height, width);
    }
}
