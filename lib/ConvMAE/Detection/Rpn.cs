using ConvMAE.Training;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Detection;

/// <summary>detectron2's DefaultAnchorGenerator: per level, anchors of one size and each aspect ratio centred on
/// every grid point (offset 0), ordered location-major then anchor (h, w, a), as the head's outputs are flattened.</summary>
public static class Anchors
{
    /// <returns>[H·W·A, 4] anchors of one level.</returns>
    public static Tensor ForLevel(int height, int width, int stride, double size, double[] aspectRatios, double offset = 0)
    {
        var cell = new List<float>();
        foreach (var a in aspectRatios)
        {
            double area = size * size, w = Math.Sqrt(area / a), h = a * w;
            cell.AddRange([(float)(-w / 2), (float)(-h / 2), (float)(w / 2), (float)(h / 2)]);
        }
        int A = aspectRatios.Length;
        var anchors = new float[height * width * A * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int k = 0; k < A; k++)
                {
                    float sx = (float)(offset * stride + x * stride), sy = (float)(offset * stride + y * stride);
                    int o = ((y * width + x) * A + k) * 4;
                    anchors[o] = sx + cell[k * 4]; anchors[o + 1] = sy + cell[k * 4 + 1];
                    anchors[o + 2] = sx + cell[k * 4 + 2]; anchors[o + 3] = sy + cell[k * 4 + 3];
                }
        return tensor(anchors, [height * width * A, 4]);
    }
}

/// <summary>StandardRPNHead with two 3×3 convs (conv_dims [-1, -1]): keys conv.conv0/conv1, objectness_logits,
/// anchor_deltas; all initialised normal(0, 0.01) with zero bias.</summary>
public sealed class RpnHead : nn.Module<Tensor, (Tensor, Tensor)>
{
    [ComponentName(Name = "conv")] public readonly Sequential Conv;
    [ComponentName(Name = "objectness_logits")] public readonly Conv2d ObjectnessLogits;
    [ComponentName(Name = "anchor_deltas")] public readonly Conv2d AnchorDeltas;

    public RpnHead(int channels, int numAnchors) : base(nameof(RpnHead))
    {
        Conv = nn.Sequential(("conv0", new D2Conv(channels, channels, 3, norm: false, relu: true)),
                             ("conv1", new D2Conv(channels, channels, 3, norm: false, relu: true)));
        ObjectnessLogits = nn.Conv2d(channels, numAnchors, 1);
        AnchorDeltas = nn.Conv2d(channels, numAnchors * 4, 1);
        RegisterComponents();
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
            if (name.EndsWith("weight")) nn.init.normal_(p, 0, 0.01); else nn.init.zeros_(p);
    }

    /// <returns>objectness [B,A,H,W] and deltas [B,4A,H,W] of one level.</returns>
    public override (Tensor, Tensor) forward(Tensor x)
    {
        var t = Conv.call(x);
        return (ObjectnessLogits.call(t), AnchorDeltas.call(t));
    }
}

/// <summary>Ground truth of one image in the detector's input frame: boxes [G,4] (x1,y1,x2,y2), contiguous classes
/// [G] (0..num_classes-1), bit masks [G,S,S] (bool/uint8) at the input resolution.</summary>
public sealed record ImageTargets(Tensor Boxes, Tensor Classes, Tensor Masks);

/// <summary>
/// detectron2's RPN: the head on p2..p6, anchors, training labels (Matcher 0.3/0.7 with low-quality matches,
/// 256 anchors per image at 50 % positive), losses (binary CE summed over sampled anchors, L1 on positive deltas —
/// smooth-L1 with beta 0 — both divided by 256·images) and proposals (per level top-k by objectness, decode, clip,
/// drop empty, NMS 0.7 within each level, top post_nms_topk overall). Proposals carry no gradient, as in detectron2.
/// </summary>
public sealed class Rpn : nn.Module
{
    [ComponentName(Name = "rpn_head")] public readonly RpnHead Head;
    readonly MaskRcnnConfig config;
    readonly int[] strides;
    readonly BoxCoder coder = new(1, 1, 1, 1);
    readonly Matcher matcher = new([0.3, 0.7], [0, -1, 1], AllowLowQualityMatches: true);
    readonly Dictionary<(int, int, int), Tensor> anchorCache = [];

    public Rpn(MaskRcnnConfig config, int[] strides) : base(nameof(Rpn))
    {
        this.config = config;
        this.strides = strides;
        Head = new RpnHead(config.FpnOutChannels, config.AnchorAspectRatios.Length);
        RegisterComponents();
    }

    Tensor LevelAnchors(int level, int h, int w)
    {
        if (!anchorCache.TryGetValue((level, h, w), out var a))
            anchorCache[(level, h, w)] = a = Anchors.ForLevel(h, w, strides[level], config.AnchorSizes[level], config.AnchorAspectRatios).DetachFromDisposeScope();
        return a;
    }

    /// <summary>Proposals per image (boxes [P,4], detached) and, when <paramref name="targets"/> are given, the losses
    /// loss_rpn_cls and loss_rpn_loc.</summary>
    public (Tensor[] Proposals, Dictionary<string, Tensor> Losses) Forward(Tensor[] features, int imageSize, ImageTargets[]? targets, Random rng)
    {
        int B = (int)features[0].shape[0];
        var logits = new List<Tensor>();   // per level [B, H·W·A]
        var deltas = new List<Tensor>();   // per level [B, H·W·A, 4]
        var anchors = new List<Tensor>();
        for (int l = 0; l < features.Length; l++)
        {
            var (o, d) = Head.call(features[l]);
            int h = (int)o.shape[2], w = (int)o.shape[3], A = (int)o.shape[1];
            logits.Add(o.permute(0, 2, 3, 1).flatten(1));
            deltas.Add(d.view(B, A, 4, h, w).permute(0, 3, 4, 1, 2).reshape(B, -1, 4));
            anchors.Add(LevelAnchors(l, h, w).to(o.device));
        }
        var proposals = Proposals(logits, deltas, anchors, imageSize);
        var losses = new Dictionary<string, Tensor>();
        if (targets is not null) (losses["loss_rpn_cls"], losses["loss_rpn_loc"]) = Loss(logits, deltas, anchors, targets, rng);
        return (proposals, losses);
    }

    (Tensor, Tensor) Loss(List<Tensor> logits, List<Tensor> deltas, List<Tensor> anchors, ImageTargets[] targets, Random rng)
    {
        var allAnchors = cat(anchors, 0);                                     // [N,4]
        var allLogits = cat(logits, 1);                                       // [B,N]
        var allDeltas = cat(deltas, 1);                                       // [B,N,4]
        int B = targets.Length;
        var labels = new List<Tensor>();
        var gtDeltas = new List<Tensor>();
        using (no_grad())
            for (int i = 0; i < B; i++)
            {
                var gt = targets[i].Boxes.to(allAnchors.device);
                var (matches, lab) = matcher.Match(BoxOps.PairwiseIou(gt, allAnchors));
                var (pos, neg) = Sampling.Subsample(lab.ToHost<long>(), config.RpnBatchSizePerImage, config.RpnPositiveFraction, 0, rng);
                var sampled = full_like(lab, -1L);
                if (pos.Length > 0) sampled.index_fill_(0, tensor(pos), 1);
                if (neg.Length > 0) sampled.index_fill_(0, tensor(neg), 0);
                labels.Add(sampled);
                var matched = gt.shape[0] == 0 ? zeros_like(allAnchors) : gt.index_select(0, matches);
                gtDeltas.Add(coder.GetDeltas(allAnchors, matched));
            }
        var gtLabels = stack(labels);                                         // [B,N]
        var target = stack(gtDeltas);                                         // [B,N,4]
        var posMask = gtLabels.eq(1);
        var valid = gtLabels.ge(0);
        double normalizer = (double)config.RpnBatchSizePerImage * B;
        var loc = (allDeltas[posMask] - target[posMask]).abs().sum();       // smooth_l1 with beta 0 = L1
        var cls = nn.functional.binary_cross_entropy_with_logits(allLogits[valid], gtLabels[valid].to(allLogits.dtype), reduction: nn.Reduction.Sum);
        return (cls / normalizer, loc / normalizer);
    }

    Tensor[] Proposals(List<Tensor> logits, List<Tensor> deltas, List<Tensor> anchors, int imageSize)
    {
        using var _ = no_grad();
        int B = (int)logits[0].shape[0];
        int preTopk = training ? config.RpnPreNmsTopk[0] : config.RpnPreNmsTopk[1];
        int postTopk = training ? config.RpnPostNmsTopk[0] : config.RpnPostNmsTopk[1];
        var result = new Tensor[B];
        for (int i = 0; i < B; i++)
        {
            var boxes = new List<Tensor>(); var scores = new List<Tensor>(); var levels = new List<Tensor>();
            for (int l = 0; l < logits.Count; l++)
            {
                var s = logits[l][i].detach().to(float32);
                int k = (int)Math.Min(preTopk, s.shape[0]);
                var (top, idx) = s.topk(k);
                var decoded = coder.ApplyDeltas(deltas[l][i].detach().to(float32).index_select(0, idx), anchors[l].index_select(0, idx));
                boxes.Add(decoded); scores.Add(top); levels.Add(full(k, (long)l));
            }
            var b = cat(boxes); var sc = cat(scores); var lv = cat(levels);
            var finite = isfinite(b).all(1).logical_and(isfinite(sc));
            if (training && !finite.all().item<bool>()) throw new NonFiniteLossException("RPN: predicted boxes or scores contain Inf/NaN (training has diverged)");
            b = BoxOps.Clip(b[finite], imageSize, imageSize); sc = sc[finite]; lv = lv[finite];
            var keepEmpty = BoxOps.NonEmpty(b);
            b = b[keepEmpty]; sc = sc[keepEmpty]; lv = lv[keepEmpty];
            var keep = BoxOps.BatchedNms(b, sc, lv, config.RpnNmsThresh);
            if (keep.Length > postTopk) keep = keep[..postTopk];
            result[i] = b.index_select(0, tensor(keep, int64)).detach();
        }
        return result;
    }
}
