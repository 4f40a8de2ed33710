using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>detectron2's ROIPooler with ROIAlignV2 over p2..p5: each box goes to level
/// floor(4 + log2(√area / 224)) clamped to 2..5, and is pooled there with <see cref="RoiAlign"/> (aligned, sampling 0).</summary>
public static class MultiLevelRoiPooler
{
    /// <param name="features">p2..p5 (at least 4 maps, strides 4..32).</param>
    /// <param name="boxes">Per image [Ri, 4] boxes in input coordinates.</param>
    /// <returns>[ΣRi, C, size, size].</returns>
    public static Tensor Pool(Tensor[] features, Tensor[] boxes, int[] strides, int size)
    {
        using var scope = NewDisposeScope();
        var rois = cat(boxes.Select((b, i) => cat([full(b.shape[0], 1, (double)i, float32), b.detach().to(float32)], 1)).ToArray(), 0);   // [R,5]
        long R = rois.shape[0], C = features[0].shape[1];
        if (R == 0) return zeros([0, C, size, size], features[0].dtype).MoveToOuterDisposeScope();
        var area = (rois[.., 3] - rois[.., 1]) * (rois[.., 4] - rois[.., 2]);
        var level = floor(4 + log2(sqrt(area) / 224 + 1e-8)).clamp(2, 5).to(int64) - 2;
        var output = zeros([R, C, size, size], features[0].dtype);
        for (int l = 0; l < 4; l++)
        {
            var idx = nonzero(level.eq(l)).squeeze(1);
            if (idx.shape[0] == 0) continue;
            var pooled = RoiAlign.Forward(features[l], rois.index_select(0, idx), 1.0 / strides[l], size, size, 0, aligned: true);
            output = output.index_copy(0, idx, pooled);
        }
        return output.MoveToOuterDisposeScope();
    }
}

/// <summary>FastRCNNConvFCHead "4conv1fc" with norm: conv1..conv4 (3×3, BatchNorm, ReLU; c2_msra_fill), then fc1 + ReLU
/// (c2_xavier_fill).</summary>
public sealed class BoxHead : nn.Module<Tensor, Tensor>
{
    readonly D2Conv[] convs;
    [ComponentName(Name = "fc1")] public readonly Linear Fc1;

    public BoxHead(int inChannels, int[] convDims, int fcDim, int poolSize) : base(nameof(BoxHead))
    {
        convs = new D2Conv[convDims.Length];
        int c = inChannels;
        for (int i = 0; i < convDims.Length; i++)
        {
            convs[i] = new D2Conv(c, convDims[i], 3, norm: true, relu: true);
            convs[i].MsraFill();
            register_module($"conv{i + 1}", convs[i]);
            c = convDims[i];
        }
        Fc1 = nn.Linear(c * poolSize * poolSize, fcDim);
        RegisterComponents();
        using var _ = no_grad();
        nn.init.kaiming_uniform_(Fc1.weight!, a: 1);
        nn.init.zeros_(Fc1.bias!);
    }

    public override Tensor forward(Tensor x)
    {
        foreach (var c in convs) x = c.call(x);
        return nn.functional.relu(Fc1.call(x.flatten(1)));
    }
}

/// <summary>MaskRCNNConvUpsampleHead: mask_fcn1..4 (3×3, norm, ReLU), deconv (2×2 stride 2, ReLU, no norm), predictor
/// (1×1 to one mask per class). c2_msra_fill for the convs and the deconv, normal(0, 0.001) for the predictor.</summary>
public sealed class MaskHead : nn.Module<Tensor, Tensor>
{
    readonly D2Conv[] convs;
    [ComponentName(Name = "deconv")] public readonly ConvTranspose2d Deconv;
    [ComponentName(Name = "predictor")] public readonly Conv2d Predictor;

    public MaskHead(int inChannels, int[] convDims, int numClasses) : base(nameof(MaskHead))
    {
        convs = new D2Conv[convDims.Length - 1];
        int c = inChannels;
        for (int i = 0; i < convs.Length; i++)
        {
            convs[i] = new D2Conv(c, convDims[i], 3, norm: true, relu: true);
            convs[i].MsraFill();
            register_module($"mask_fcn{i + 1}", convs[i]);
            c = convDims[i];
        }
        Deconv = nn.ConvTranspose2d(c, convDims[^1], 2, stride: 2);
        Predictor = nn.Conv2d(convDims[^1], numClasses, 1);
        RegisterComponents();
        using var _ = no_grad();
        nn.init.kaiming_normal_(Deconv.weight!, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        nn.init.zeros_(Deconv.bias!);
        nn.init.normal_(Predictor.weight!, 0, 0.001);
        nn.init.zeros_(Predictor.bias!);
    }

    /// <returns>[R, num_classes, 2·size, 2·size] mask logits.</returns>
    public override Tensor forward(Tensor x)
    {
        foreach (var c in convs) x = c.call(x);
        return Predictor.call(nn.functional.relu(Deconv.call(x)));
    }
}

/// <summary>FastRCNNOutputLayers: cls_score (num_classes + 1, background last; normal 0.01) and class-specific
/// bbox_pred (4 per class; normal 0.001).</summary>
public sealed class BoxPredictor : nn.Module<Tensor, (Tensor, Tensor)>
{
    [ComponentName(Name = "cls_score")] public readonly Linear ClsScore;
    [ComponentName(Name = "bbox_pred")] public readonly Linear BboxPred;

    public BoxPredictor(int inDim, int numClasses) : base(nameof(BoxPredictor))
    {
        ClsScore = nn.Linear(inDim, numClasses + 1);
        BboxPred = nn.Linear(inDim, numClasses * 4);
        RegisterComponents();
        using var _ = no_grad();
        nn.init.normal_(ClsScore.weight!, 0, 0.01); nn.init.zeros_(ClsScore.bias!);
        nn.init.normal_(BboxPred.weight!, 0, 0.001); nn.init.zeros_(BboxPred.bias!);
    }

    public override (Tensor, Tensor) forward(Tensor x) => (ClsScore.call(x), BboxPred.call(x));
}

/// <summary>Detections of one image in the detector's input frame: boxes [D,4], scores [D], classes [D] (contiguous),
/// mask probabilities [D, M, M] inside each box.</summary>
public sealed record Detections(Tensor Boxes, Tensor Scores, Tensor Classes, Tensor? MaskProbs);

/// <summary>
/// StandardROIHeads with the box and mask branches: proposals + ground-truth boxes matched at IoU 0.5 and sampled
/// (512 per image, 25 % foreground), 7×7 box pooling → box head → predictor; losses as detectron2 (cross-entropy over
/// the sampled RoIs; L1 of the class's deltas on foreground RoIs divided by the number of sampled RoIs; per-pixel
/// binary CE of the class's 28×28 mask on foreground RoIs). Inference: softmax, class-specific decode, clip,
/// score &gt; 0.05, per-class NMS 0.5, 100 per image, masks on the kept boxes.
/// </summary>
public sealed class RoiHeads : nn.Module
{
    [ComponentName(Name = "box_head")] public readonly BoxHead BoxHeadModule;
    [ComponentName(Name = "box_predictor")] public readonly BoxPredictor Predictor;
    [ComponentName(Name = "mask_head")] public readonly MaskHead MaskHeadModule;
    readonly MaskRcnnConfig config;
    readonly int[] strides;
    readonly BoxCoder coder = new(10, 10, 5, 5);
    readonly Matcher matcher;
    const int BoxPool = 7, MaskPool = 14;

    public RoiHeads(MaskRcnnConfig config, int[] strides) : base(nameof(RoiHeads))
    {
        this.config = config;
        this.strides = strides;
        matcher = new Matcher([config.RoiIouThreshold], [0, 1], AllowLowQualityMatches: false);
        BoxHeadModule = new BoxHead(config.FpnOutChannels, config.BoxHeadConvDims, config.BoxHeadFcDim, BoxPool);
        Predictor = new BoxPredictor(config.BoxHeadFcDim, config.NumClasses);
        MaskHeadModule = new MaskHead(config.FpnOutChannels, config.MaskHeadConvDims, config.NumClasses);
        RegisterComponents();
    }

    int MaskSize => 2 * MaskPool;

    /// <summary>Training losses: loss_cls, loss_box_reg, loss_mask.</summary>
    public Dictionary<string, Tensor> Losses(Tensor[] features, Tensor[] proposals, ImageTargets[] targets, Random rng)
    {
        int K = config.NumClasses;
        var sampledBoxes = new Tensor[targets.Length];
        var classes = new List<Tensor>(); var regTargets = new List<Tensor>();
        var fgBoxes = new Tensor[targets.Length]; var fgClasses = new List<Tensor>(); var fgMasks = new List<Tensor>();
        using (no_grad())
            for (int i = 0; i < targets.Length; i++)
            {
                var t = targets[i];
                var gt = t.Boxes.to(float32);
                var boxes = cat([proposals[i], gt], 0);                              // add_ground_truth_to_proposals
                var (matches, labels) = matcher.Match(BoxOps.PairwiseIou(gt, boxes));
                var cls = gt.shape[0] == 0 ? full_like(matches, (long)K)
                        : where(labels.eq(0), full_like(matches, (long)K), t.Classes.index_select(0, matches));
                var (pos, neg) = Sampling.Subsample(cls.ToHost<long>(), config.RoiBatchSizePerImage, config.RoiPositiveFraction, K, rng);
                var sampled = tensor(pos.Concat(neg).ToArray(), int64);
                sampledBoxes[i] = boxes.index_select(0, sampled);
                classes.Add(cls.index_select(0, sampled));
                var m = matches.index_select(0, sampled);
                regTargets.Add(gt.shape[0] == 0 ? zeros_like(sampledBoxes[i]) : coder.GetDeltas(sampledBoxes[i], gt.index_select(0, m)));
                var fg = tensor(Enumerable.Range(0, pos.Length).Select(x => (long)x).ToArray(), int64);
                fgBoxes[i] = sampledBoxes[i].index_select(0, fg);
                fgClasses.Add(classes[^1].index_select(0, fg));
                var fgGt = m.index_select(0, fg);
                fgMasks.Add(pos.Length == 0 ? zeros(0, MaskSize, MaskSize) : MaskTargets(t.Masks, fgBoxes[i], fgGt));
            }
        var gtClasses = cat(classes); var deltasTarget = cat(regTargets);
        var x = BoxHeadModule.call(MultiLevelRoiPooler.Pool(features, sampledBoxes, strides, BoxPool));
        var (scores, deltas) = Predictor.call(x);
        var losses = new Dictionary<string, Tensor>();
        losses["loss_cls"] = gtClasses.shape[0] == 0 ? scores.sum() * 0 : nn.functional.cross_entropy(scores, gtClasses);
        var fgIdx = nonzero(gtClasses.lt(K)).squeeze(1);
        if (fgIdx.shape[0] == 0) losses["loss_box_reg"] = deltas.sum() * 0;
        else
        {
            var picked = deltas.view(-1, K, 4).index_select(0, fgIdx)
                               .gather(1, gtClasses.index_select(0, fgIdx).view(-1, 1, 1).expand(-1, 1, 4)).squeeze(1);   // [F,4]
            losses["loss_box_reg"] = (picked - deltasTarget.index_select(0, fgIdx).to(picked.dtype)).abs().sum() / Math.Max(gtClasses.shape[0], 1);
        }
        var maskLogits = MaskHeadModule.call(MultiLevelRoiPooler.Pool(features, fgBoxes, strides, MaskPool));   // [F,K,28,28]
        var fgCls = cat(fgClasses);
        if (fgCls.shape[0] == 0) losses["loss_mask"] = maskLogits.sum() * 0;
        else
        {
            var logit = maskLogits.gather(1, fgCls.view(-1, 1, 1, 1).expand(-1, 1, MaskSize, MaskSize)).squeeze(1);
            losses["loss_mask"] = nn.functional.binary_cross_entropy_with_logits(logit, cat(fgMasks).to(logit.dtype));
        }
        return losses;
    }

    /// <summary>BitMasks.crop_and_resize: each ground-truth mask RoIAligned (aligned, sampling 0) into its box at 28×28,
    /// then ≥ 0.5. (detectron2 rasterises polygon masks directly inside the box instead; the kit keeps all masks as
    /// bit masks, which is detectron2's own path for RLE masks.)</summary>
    /// <param name="masks">[G, S, S] the image's ground-truth masks.</param>
    /// <param name="boxes">[F, 4] foreground RoIs.</param>
    /// <param name="gtIndex">[F] the ground truth each RoI is matched to.</param>
    Tensor MaskTargets(Tensor masks, Tensor boxes, Tensor gtIndex)
    {
        var rois = cat([gtIndex.to(float32).unsqueeze(1), boxes.to(float32)], 1);
        var aligned = RoiAlign.Forward(masks.to(float32).unsqueeze(1), rois, 1.0, MaskSize, MaskSize, 0, aligned: true).squeeze(1);
        return aligned.ge(0.5).to(float32);
    }

    /// <summary>Inference per image (no grad): detections in the input frame.</summary>
    public Detections[] Inference(Tensor[] features, Tensor[] proposals, int imageSize)
    {
        using var _ = no_grad();
        int K = config.NumClasses;
        var x = BoxHeadModule.call(MultiLevelRoiPooler.Pool(features, proposals, strides, BoxPool));
        var (logits, deltas) = Predictor.call(x);
        var probs = nn.functional.softmax(logits.to(float32), 1);
        var result = new Detections[proposals.Length];
        long offset = 0;
        for (int i = 0; i < proposals.Length; i++)
        {
            long n = proposals[i].shape[0];
            var p = probs.narrow(0, offset, n)[.., TensorIndex.Slice(0, K)];                         // [n,K]
            var boxes = coder.ApplyDeltas(deltas.narrow(0, offset, n).to(float32), proposals[i]).view(n * K, 4);
            offset += n;
            boxes = BoxOps.Clip(boxes, imageSize, imageSize).view(n, K, 4);
            var finite = isfinite(boxes).all(2).all(1).logical_and(isfinite(p).all(1));
            boxes = boxes[finite]; p = p[finite];
            var mask = p.gt(config.TestScoreThresh);
            var inds = nonzero(mask);                                                                 // [M,2] (box, class)
            var b = boxes[mask]; var s = p[mask]; var c = inds[.., 1];
            var keep = BoxOps.BatchedNms(b, s, c, config.TestNmsThresh);
            if (keep.Length > config.TestDetectionsPerImage) keep = keep[..config.TestDetectionsPerImage];
            var k = tensor(keep, int64);
            result[i] = new Detections(b.index_select(0, k), s.index_select(0, k), c.index_select(0, k), null);
        }
        var maskLogits = MaskHeadModule.call(MultiLevelRoiPooler.Pool(features, result.Select(r => r.Boxes).ToArray(), strides, MaskPool));   // [ΣD,K,28,28]
        offset = 0;
        for (int i = 0; i < result.Length; i++)
        {
            long n = result[i].Boxes.shape[0];
            var logit = maskLogits.narrow(0, offset, n);
            offset += n;
            var probsAtClass = n == 0 ? zeros(0, MaskSize, MaskSize)
                : sigmoid(logit.gather(1, result[i].Classes.view(-1, 1, 1, 1).expand(-1, 1, MaskSize, MaskSize)).squeeze(1).to(float32));
            result[i] = result[i] with { MaskProbs = probsAtClass };
        }
        return result;
    }
}
