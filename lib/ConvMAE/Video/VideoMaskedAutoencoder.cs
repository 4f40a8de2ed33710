using ConvMAE.Data;
using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>One tube masking of a batch: the plan over all tokens, the spatial mask [N,L_s] and the masked ids [N,Nm].</summary>
public sealed record TubePlan(MaskPlan Plan, Tensor SpatialMask, Tensor IdsMasked) : IDisposable
{
    public void Dispose() { Plan.Dispose(); SpatialMask.Dispose(); IdsMasked.Dispose(); }
}

/// <summary>Result of one video pretraining forward: loss, the masked tokens' predictions [N,Nm,PatchDim], the tube mask
/// [N,L] (1 = removed) and the visible latent [N,Nv,E2].</summary>
public sealed record VideoPretrainOutput(Tensor Loss, Tensor Pred, Tensor Mask, Tensor Latent) : IDisposable
{
    public void Dispose() { Loss.Dispose(); Pred.Dispose(); Mask.Dispose(); Latent.Dispose(); }
}

/// <summary>
/// VideoConvMAE pretraining: the image ConvMAE encoder on clips (cube embedding, masked spatio-temporal CBlocks, joint
/// space-time attention over the visible tokens only, multi-scale fusion) with tube masking and a VideoMAE-style
/// decoder predicting every masked tubelet's 2×16×16×3 pixels. See <see cref="VideoConvMAEConfig"/> for each choice.
/// </summary>
public sealed class VideoMaskedAutoencoder : VideoConvViTBase<VideoPretrainOutput>
{
    [ComponentName(Name = "mask_token")] public readonly Parameter MaskToken;
    /// <summary>[1,L,Dd] fixed sinusoid table (requires_grad false, kept in the state dict as the image model's).</summary>
    [ComponentName(Name = "decoder_pos_embed")] public readonly Parameter DecoderPosEmbed;
    /// <summary>Conv3d(E0,E2, k = s = (1,4,4)): stage-1 map → token grid.</summary>
    [ComponentName(Name = "stage1_output_decode")] public readonly Conv3d Stage1OutputDecode;
    /// <summary>Conv3d(E1,E2, k = s = (1,2,2)): stage-2 map → token grid.</summary>
    [ComponentName(Name = "stage2_output_decode")] public readonly Conv3d Stage2OutputDecode;
    [ComponentName(Name = "norm")] public readonly LayerNorm Norm;
    /// <summary>VideoMAE's encoder_to_decoder: Linear(E2, Dd) without bias.</summary>
    [ComponentName(Name = "decoder_embed")] public readonly Linear DecoderEmbed;
    [ComponentName(Name = "decoder_blocks")] public readonly ModuleList<Block> DecoderBlocks;
    /// <summary>MSD only: one zero-initialised Linear(2·E2, Dd) per decoder block (null otherwise).</summary>
    [ComponentName(Name = "decoder_msd")] public readonly ModuleList<Linear>? DecoderMsd;
    [ComponentName(Name = "decoder_norm")] public readonly LayerNorm DecoderNorm;
    [ComponentName(Name = "decoder_pred")] public readonly Linear DecoderPred;

    public VideoMaskedAutoencoder(VideoConvMAEConfig config)
        : base(nameof(VideoMaskedAutoencoder), config, learnablePosEmbed: false, drop: 0, attnDrop: 0, dpr: new double[config.Depth.Sum()])
    {
        var c = Config;
        int e2 = c.EmbedDim[2], dd = c.DecoderEmbedDim, L = c.NumPatches;
        MaskToken = new Parameter(zeros(1, 1, dd));
        DecoderPosEmbed = new Parameter(zeros(1, L, dd), requires_grad: false);
        register_parameter("mask_token", MaskToken);
        register_parameter("decoder_pos_embed", DecoderPosEmbed);
        RegisterStem();
        int k1 = c.PatchSize[1] * c.PatchSize[2], k2 = c.PatchSize[2];
        Stage1OutputDecode = nn.Conv3d(c.EmbedDim[0], e2, (1, k1, k1), stride: (1, k1, k1));
        Stage2OutputDecode = nn.Conv3d(c.EmbedDim[1], e2, (1, k2, k2), stride: (1, k2, k2));
        register_module("stage1_output_decode", Stage1OutputDecode);
        register_module("stage2_output_decode", Stage2OutputDecode);
        RegisterStages();
        Norm = nn.LayerNorm(e2, eps: c.LayerNormEps);
        register_module("norm", Norm);
        DecoderEmbed = nn.Linear(e2, dd, hasBias: false);
        register_module("decoder_embed", DecoderEmbed);
        DecoderBlocks = nn.ModuleList(Enumerable.Range(0, c.DecoderDepth)
            .Select(_ => new Block(dd, c.DecoderNumHeads, 4.0, c.QkvBias, null, normEps: c.LayerNormEps)).ToArray());
        register_module("decoder_blocks", DecoderBlocks);
        if (c.Msd)
        {
            DecoderMsd = nn.ModuleList(Enumerable.Range(0, c.DecoderDepth).Select(_ => nn.Linear(2 * e2, dd)).ToArray());
            register_module("decoder_msd", DecoderMsd);
        }
        DecoderNorm = nn.LayerNorm(dd, eps: c.LayerNormEps);
        register_module("decoder_norm", DecoderNorm);
        DecoderPred = nn.Linear(dd, c.PatchDim);
        register_module("decoder_pred", DecoderPred);
        InitializeWeights();
    }

    /// <summary>VideoMAE's pretraining init: xavier_uniform Linears, LN 1/0, trunc_normal(.02) mask token; the image
    /// model's flat xavier on patch_embed3; fixed tables; MSD projections zero (the MSD model starts as the plain one).</summary>
    void InitializeWeights()
    {
        using var _ = no_grad();
        var c = Config;
        using (var t = SinusoidTable.Create(c.NumPatches, c.EmbedDim[2])) PosEmbed.copy_(t.unsqueeze(0));
        using (var t = SinusoidTable.Create(c.NumPatches, c.DecoderEmbedDim)) DecoderPosEmbed.copy_(t.unsqueeze(0));
        Init.XavierUniformFlat(PatchEmbed3.Proj.weight!);
        Init.LinearsAndNorms(this, Init.XavierUniformFlat);
        Init.TruncNormal(MaskToken, 0.02);
        if (DecoderMsd is not null)
            foreach (var lin in DecoderMsd) { lin.weight!.zero_(); lin.bias!.zero_(); }
    }

    // ------------------------------------------------------------------ masking
    /// <summary>Tube masking from noise [N,L_s] (torch.rand in training).</summary>
    public TubePlan TubeMask(Tensor noise, double? maskRatio = null)
    {
        var c = Config;
        if (noise.dim() != 2 || noise.shape[1] != c.SpatialTokens)
            throw new ArgumentException($"noise: expected [N,{c.SpatialTokens}] (one value per spatial token), got [{string.Join(",", noise.shape)}]");
        var (plan, spatial, masked) = TubeMasking.FromNoise(noise, c.TimeSlices, c.KeptPerSlice(maskRatio));
        return new TubePlan(plan, spatial, masked);
    }

    public TubePlan RandomTubeMask(long batch, Device device, double? maskRatio = null)
    {
        using var noise = rand(batch, Config.SpatialTokens, device: device);
        return TubeMask(noise, maskRatio);
    }

    // ------------------------------------------------------------------ encoder
    /// <summary>The visible tokens' three scales [N,Nv,E2] each (stage 1/2 null without fusion).</summary>
    public EncoderParts ForwardEncoderParts(Tensor clips, TubePlan tube)
    {
        CheckClips(clips);
        if (UsesSparseStages) return ForwardEncoderPartsSparse(clips, tube);
        var c = Config;
        using var scope = NewDisposeScope();
        int g = c.GridSize, e2 = c.EmbedDim[2];
        Tensor? vis1 = null, vis2 = null;
        if (c.MaskedConv)
        {
            vis1 = ToCompute(1 - TubeMasking.Upsample(tube.SpatialMask, g, c.PatchSize[1] * c.PatchSize[2]));   // [N,1,1,4g,4g]
            vis2 = ToCompute(1 - TubeMasking.Upsample(tube.SpatialMask, g, c.PatchSize[2]));                     // [N,1,1,2g,2g]
        }
        var x = PatchEmbed1.call(ToCompute(clips));               // [N,E0,T',4g,4g]
        x = RunConvStage(Blocks1, x, vis1);
        Tensor? s1 = c.MultiScaleFusion || c.Msd ? ToTokens(Stage1OutputDecode.call(x)) : null;   // [N,L,E2]
        x = PatchEmbed2.call(x);                                  // [N,E1,T',2g,2g]
        x = RunConvStage(Blocks2, x, vis2);
        Tensor? s2 = c.MultiScaleFusion || c.Msd ? ToTokens(Stage2OutputDecode.call(x)) : null;   // [N,L,E2]
        x = PatchEmbed3.call(x);                                  // [N,E2,T',g,g]
        x = PatchEmbed4.call(ToTokens(x)) + PosEmbed;             // [N,L,E2]
        var idx = tube.Plan.IdsKeep.unsqueeze(-1).expand(-1, -1, e2);   // [N,Nv,E2]
        x = RunBlocks(Blocks3, x.gather(1, idx));                 // joint space-time attention over the visible tokens
        var parts = new EncoderParts(x, s1?.gather(1, idx), s2?.gather(1, idx));
        parts.Stage3.MoveToOuterDisposeScope(); parts.Stage1?.MoveToOuterDisposeScope(); parts.Stage2?.MoveToOuterDisposeScope();
        return parts;
    }

    /// <summary>Stages 1-2 on the visible tubes only: sparse_stages with masked convolution (without it masked
    /// positions do reach visible tokens, so every position must be computed).</summary>
    public bool UsesSparseStages => Config.SparseStages && Config.MaskedConv;

    /// <summary>
    /// <see cref="ForwardEncoderParts"/> with stages 1-2 on the visible blocks only (the image model's sparse form,
    /// <see cref="VisibleBlocks"/>, with every time slice as an image of the batch: tube masking keeps the same spatial
    /// blocks in each slice). Exact for the same reasons: every part of stages 1-2 but the depthwise convolution is per
    /// position or tiles the 16×16 blocks, and the depthwise convolution reads zeros at masked positions. Blocks are
    /// [N·T',Lk,s,s,C], slice t of clip n at row n·T' + t, so the stage-3 tokens come out in ids_keep order
    /// (time-major, the kept spatial ids in each slice).
    /// </summary>
    private EncoderParts ForwardEncoderPartsSparse(Tensor clips, TubePlan tube)
    {
        var c = Config;
        using var scope = NewDisposeScope();
        int e2 = c.EmbedDim[2], kt = c.TubeletSize;
        long n = clips.shape[0], t = c.TimeSlices, nv = tube.Plan.IdsKeep.shape[1], lk = nv / t, size = c.ImgSize;
        var spatialKeep = tube.Plan.IdsKeep[.., ..(int)lk];                                      // [N,Lk]: slice 0's ids are the spatial ids
        using var visible = new VisibleBlocks(spatialKeep.repeat_interleave(t, dim: 0), c.GridSize);   // rows n·T' + t
        // Each slice's kt frames as one image of 3·kt channels, channel-major: [N·T',3·kt,S,S].
        var slices = ToCompute(clips).view(n, c.InChans, t, kt, size, size).permute(0, 2, 1, 3, 4, 5).reshape(n * t, c.InChans * kt, size, size);
        var x = PatchEmbed1.ForwardBlocks(visible.PixelBlocks(slices));          // [N·T',Lk,4,4,E0]
        foreach (var blk in Blocks1) x = blk.ForwardVisible(x, visible, t);
        bool scales = c.MultiScaleFusion || c.Msd;
        Tensor? s1 = scales ? VisibleBlocks.StridedConv(Stage1OutputDecode, x).view(n, nv, e2) : null;   // [N,Nv,E2]
        x = PatchEmbed2.ForwardBlocks(x);                                        // [N·T',Lk,2,2,E1]
        foreach (var blk in Blocks2) x = blk.ForwardVisible(x, visible, t);
        Tensor? s2 = scales ? VisibleBlocks.StridedConv(Stage2OutputDecode, x).view(n, nv, e2) : null;   // [N,Nv,E2]
        x = PatchEmbed4.call(PatchEmbed3.ForwardBlocks(x).view(n, nv, e2));      // [N,Nv,E2]
        var pos = PosEmbed.expand(n, -1, -1).gather(1, tube.Plan.IdsKeep.unsqueeze(-1).expand(-1, -1, e2));   // [N,Nv,E2]
        x = RunBlocks(Blocks3, x + pos.to(x.dtype));
        var parts = new EncoderParts(x, s1, s2);
        parts.Stage3.MoveToOuterDisposeScope(); parts.Stage1?.MoveToOuterDisposeScope(); parts.Stage2?.MoveToOuterDisposeScope();
        return parts;
    }

    /// <summary>Latent of the visible tokens [N,Nv,E2] = norm(stage 3 (+ stage 1 + stage 2 with fusion)).</summary>
    public Tensor ForwardEncoder(Tensor clips, TubePlan tube)
    {
        using var parts = ForwardEncoderParts(clips, tube);
        using var fused = Config.MultiScaleFusion ? parts.Fused() : parts.Stage3.alias();
        return Norm.call(fused).MoveToOuterDisposeScope();
    }

    // ------------------------------------------------------------------ decoder
    /// <summary>
    /// VideoMAE's decoder: [visible + their table rows ; mask token + the masked rows] → blocks → norm → pred of the
    /// masked tokens [N,Nm,PatchDim], in <see cref="TubePlan.IdsMasked"/> order. <paramref name="multiScale"/>
    /// (MSD) is cat(stage 1, stage 2) of the visible tokens [N,Nv,2·E2].
    /// </summary>
    public Tensor ForwardDecoder(Tensor latent, TubePlan tube, Tensor? multiScale = null)
    {
        using var scope = NewDisposeScope();
        int dd = Config.DecoderEmbedDim;
        long n = latent.shape[0], nv = latent.shape[1], nm = tube.IdsMasked.shape[1];
        var pos = DecoderPosEmbed.expand(n, -1, -1).to(latent.dtype);                      // [N,L,Dd]
        var posVis = pos.gather(1, tube.Plan.IdsKeep.unsqueeze(-1).expand(-1, -1, dd));
        var posMask = pos.gather(1, tube.IdsMasked.unsqueeze(-1).expand(-1, -1, dd));
        var x = cat([DecoderEmbed.call(latent) + posVis, MaskToken.expand(n, nm, dd) + posMask], 1);   // [N,Nv+Nm,Dd]
        for (int i = 0; i < DecoderBlocks.Count; i++)
        {
            if (DecoderMsd is not null && multiScale is not null)
            {
                var add = DecoderMsd[i].call(multiScale);                                    // [N,Nv,Dd]
                x = cat([x[.., ..(int)nv] + add, x[.., (int)nv..]], 1);
            }
            x = DecoderBlocks[i].call(x);
        }
        x = DecoderPred.call(DecoderNorm.call(x[.., (int)nv..]));                           // [N,Nm,PatchDim]
        return x.MoveToOuterDisposeScope();
    }

    // ------------------------------------------------------------------ target and loss
    /// <summary>
    /// [N,3,T,S,S] (ImageNet-normalised, as the loader gives) → tubelets [N,L,PatchDim], within a tubelet (t, row, col,
    /// channel) as VideoMAE's rearrange 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'. VideoMAE un-normalises
    /// first; with norm_target each tubelet is then normalised PER CHANNEL over its pixels: (x − mean) / (std + 1e-6),
    /// std unbiased (note: + 1e-6 outside the root, unlike the image model's sqrt(var + 1e-6)).
    /// </summary>
    public Tensor Target(Tensor clips)
    {
        using var scope = NewDisposeScope();
        var c = Config;
        int p = c.TokenPixels, kt = c.TubeletSize;
        long n = clips.shape[0], l = (clips.shape[2] / kt) * (clips.shape[3] / p) * (clips.shape[4] / p);
        var mean = tensor(ImageNetStats.Mean, device: clips.device).view(1, 3, 1, 1, 1);
        var std = tensor(ImageNetStats.Std, device: clips.device).view(1, 3, 1, 1, 1);
        var raw = clips.to(float32) * std + mean;                                          // [N,3,T,S,S] in [0,1]
        var x = Tubelets(raw, kt, p);                                                      // [N,L,kt·p·p,3]
        if (c.NormTarget)
            x = (x - x.mean([-2], keepdim: true)) / (x.var(-2, unbiased: true, keepdim: true).sqrt() + 1e-6);
        return x.reshape(n, l, kt * p * p * 3).MoveToOuterDisposeScope();
    }

    /// <summary>Pixels [N,3,T,S,S] → tubelets [N,L,kt·p·p,3]: VideoMAE's 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'.</summary>
    public static Tensor Tubelets(Tensor clips, int tubelet, int p)
    {
        long n = clips.shape[0], c = clips.shape[1], t = clips.shape[2] / tubelet, h = clips.shape[3] / p, w = clips.shape[4] / p;
        return clips.reshape(n, c, t, tubelet, h, p, w, p).permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(n, t * h * w, tubelet * p * p, c);
    }

    /// <summary>The inverse of <see cref="Tubelets"/> ([N,L,kt·p·p·3] flattened accepted) → [N,3,T,S,S] for a square frame.</summary>
    public static Tensor FromTubelets(Tensor tubelets, int tubelet, int p, long frames, long size)
    {
        long n = tubelets.shape[0], t = frames / tubelet, g = size / p;
        return tubelets.reshape(n, t, g, g, tubelet, p, p, 3).permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(n, 3, frames, size, size);
    }

    /// <summary>MSE over the masked tubelets (VideoMAE: nn.MSELoss on pred vs the masked targets).</summary>
    public Tensor ForwardLoss(Tensor clips, Tensor pred, TubePlan tube)
    {
        using var scope = NewDisposeScope();
        var target = Target(clips);
        var masked = target.gather(1, tube.IdsMasked.unsqueeze(-1).expand(-1, -1, target.shape[2]));   // [N,Nm,PatchDim]
        return (pred.to(float32) - masked).pow(2).mean().MoveToOuterDisposeScope();
    }

    // ------------------------------------------------------------------ forward
    public override VideoPretrainOutput forward(Tensor clips)
    {
        using var tube = RandomTubeMask(clips.shape[0], clips.device);
        return Forward(clips, tube);
    }

    public VideoPretrainOutput Forward(Tensor clips, TubePlan tube)
    {
        using var scope = NewDisposeScope();
        using var parts = ForwardEncoderParts(clips, tube);
        var latent = Norm.call(Config.MultiScaleFusion ? parts.Fused() : parts.Stage3);       // [N,Nv,E2]
        Tensor? ms = Config.Msd ? cat([parts.Stage1!, parts.Stage2!], -1) : null;            // [N,Nv,2·E2]
        var pred = ForwardDecoder(latent, tube, ms);
        if (pred.dtype != clips.dtype) pred = pred.to(clips.dtype);
        var loss = ForwardLoss(clips, pred, tube);
        var mask = tube.Plan.Mask.clone();
        scope.MoveToOuter(loss, pred, mask, latent);
        return new VideoPretrainOutput(loss, pred, mask, latent);
    }
}
