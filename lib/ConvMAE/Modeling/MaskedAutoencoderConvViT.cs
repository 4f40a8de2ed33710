using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>Result of one pretraining forward. Deconstructs to the official (loss, pred, mask).</summary>
public sealed record PretrainOutput(Tensor Loss, Tensor Pred, Tensor Mask, Tensor Latent, Tensor IdsRestore) : IDisposable
{
    public void Deconstruct(out Tensor loss, out Tensor pred, out Tensor mask) { loss = Loss; pred = Pred; mask = Mask; }
    public void Dispose() { Loss.Dispose(); Pred.Dispose(); Mask.Dispose(); Latent.Dispose(); IdsRestore.Dispose(); }
}

/// <summary>The encoder's three scales for the kept tokens, each [N,Lk,E2]; Stage1/Stage2 are null without fusion.</summary>
public sealed record EncoderParts(Tensor Stage3, Tensor? Stage1, Tensor? Stage2) : IDisposable
{
    /// <summary>Stage3 + Stage1 + Stage2: the multi-scale fusion, before the encoder norm.</summary>
    public Tensor Fused() => Stage1 is null || Stage2 is null ? Stage3.alias() : Stage3 + Stage1 + Stage2;

    public void Dispose() { Stage3.Dispose(); Stage1?.Dispose(); Stage2?.Dispose(); }
}

/// <summary>
/// ConvMAE pretraining model (official <c>models_convmae.MaskedAutoencoderConvViT</c>), generalised from the
/// hard-coded 14×14 grid to any square input divisible by p0·p1·p2 (identical to the official at 224 px).
/// forward(imgs) draws the masking noise with torch.rand and uses <c>mask_ratio</c> from the config; the
/// <see cref="Forward(Tensor, MaskPlan)"/> overloads take given noise or a given mask.
/// Ablations (config): <c>masked_conv</c> = false passes no mask to the CBlocks; <c>multi_scale_fusion</c> = false
/// leaves the stage-1/2 decode convs out of the forward (they stay registered so checkpoints keep the official keys,
/// and receive no gradient).
/// Speed (config <c>sparse_stages</c>, default on): with masked convolution, stages 1-2 run on the visible 16×16 blocks
/// only (<see cref="VisibleBlocks"/>), which computes the same latent, prediction, loss and gradients as the official
/// dense form with about a quarter of the stage-1/2 work at mask ratio 0.75; <c>sparse_stages</c> = false is the dense form.
/// As official, no dropout or drop path is built here (drop_rate, attn_drop_rate and drop_path_rate are classifier
/// settings); qkv_bias, hard-coded true in the official model, follows the config (default true).
/// </summary>
public sealed class MaskedAutoencoderConvViT : ConvViTBase<PretrainOutput>
{
    /// <summary>[1,1,Dd], normal(.02).</summary>
    [ComponentName(Name = "mask_token")] public readonly Parameter MaskToken;
    /// <summary>[1,L,Dd] fixed sin-cos table (requires_grad = false, but in the state_dict as official).</summary>
    [ComponentName(Name = "decoder_pos_embed")] public readonly Parameter DecoderPosEmbed;
    /// <summary>Conv2d(E0,E2, k = s = p1·p2): stage-1 map → token grid (official hard-codes 4).</summary>
    [ComponentName(Name = "stage1_output_decode")] public readonly Conv2d Stage1OutputDecode;
    /// <summary>Conv2d(E1,E2, k = s = p2): stage-2 map → token grid (official hard-codes 2).</summary>
    [ComponentName(Name = "stage2_output_decode")] public readonly Conv2d Stage2OutputDecode;
    [ComponentName(Name = "norm")] public readonly LayerNorm Norm;
    [ComponentName(Name = "decoder_embed")] public readonly Linear DecoderEmbed;
    [ComponentName(Name = "decoder_blocks")] public readonly ModuleList<Block> DecoderBlocks;
    [ComponentName(Name = "decoder_norm")] public readonly LayerNorm DecoderNorm;
    [ComponentName(Name = "decoder_pred")] public readonly Linear DecoderPred;

    public MaskedAutoencoderConvViT(ConvViTConfig config)
        : base(nameof(MaskedAutoencoderConvViT), config.ValidatePretrain(), learnablePosEmbed: false, qkvBias: config.QkvBias,
               drop: 0, attnDrop: 0, dpr: new double[config.Depth.Sum()])   // official: no dropout/drop path here
    {
        var c = Config;
        int e2 = c.EmbedDim[2], dd = c.DecoderEmbedDim, L = c.NumPatches;
        MaskToken = new Parameter(zeros(1, 1, dd));
        DecoderPosEmbed = new Parameter(zeros(1, L, dd), requires_grad: false);
        register_parameter("mask_token", MaskToken);
        register_parameter("decoder_pos_embed", DecoderPosEmbed);

        RegisterStem();
        int k1 = c.PatchSize[1] * c.PatchSize[2], k2 = c.PatchSize[2];
        Stage1OutputDecode = nn.Conv2d(c.EmbedDim[0], e2, k1, stride: k1);
        Stage2OutputDecode = nn.Conv2d(c.EmbedDim[1], e2, k2, stride: k2);
        register_module("stage1_output_decode", Stage1OutputDecode);
        register_module("stage2_output_decode", Stage2OutputDecode);
        RegisterStages();
        Norm = nn.LayerNorm(e2, eps: c.LayerNormEps);
        register_module("norm", Norm);

        DecoderEmbed = nn.Linear(e2, dd);
        register_module("decoder_embed", DecoderEmbed);
        // QUIRK: decoder MLP hidden size uses mlp_ratio[0] (models_convmae.py:64).
        DecoderBlocks = nn.ModuleList(Enumerable.Range(0, c.DecoderDepth)
            .Select(_ => new Block(dd, c.DecoderNumHeads, c.MlpRatio[0], c.QkvBias, c.QkScale, normEps: c.LayerNormEps)).ToArray());
        register_module("decoder_blocks", DecoderBlocks);
        DecoderNorm = nn.LayerNorm(dd, eps: c.LayerNormEps);
        register_module("decoder_norm", DecoderNorm);
        DecoderPred = nn.Linear(dd, c.PatchDim);                 // (p0·p1·p2)²·in_chans
        register_module("decoder_pred", DecoderPred);

        InitializeWeights();
    }

    /// <summary>Official initialize_weights, in its order.</summary>
    private void InitializeWeights()
    {
        using var _ = no_grad();
        int g = Config.GridSize;
        using (var t = PosEmbed2D(Config.EmbedDim[2], g)) PosEmbed.copy_(t);
        using (var t = PosEmbed2D(Config.DecoderEmbedDim, g)) DecoderPosEmbed.copy_(t);
        Init.XavierUniformFlat(PatchEmbed3.Proj.weight!);       // QUIRK: only patch_embed3 gets the "like Linear" init
        nn.init.normal_(MaskToken, std: 0.02);
        Init.LinearsAndNorms(this, Init.XavierUniformFlat);     // xavier_uniform on every Linear (qkv as one [3D,D])
    }

    private static Tensor PosEmbed2D(int dim, int g) => PositionEmbedding.SinCos2D(dim, g).unsqueeze(0);   // [1,L,dim]

    // ------------------------------------------------------------------ masking
    /// <summary>Official random_masking for this model's L with given noise [N,L].</summary>
    public MaskPlan RandomMasking(Tensor noise, double? maskRatio = null)
    {
        if (noise.dim() != 2 || noise.shape[1] != Config.NumPatches)
            throw new ArgumentException($"noise: expected [N,{Config.NumPatches}], got [{string.Join(",", noise.shape)}]");
        return Masking.FromNoise(noise, maskRatio ?? Config.MaskRatio);
    }

    // ------------------------------------------------------------------ encoder
    /// <summary>Encoder: returns the latent [N,Lk,E2] of the kept tokens (in ids_keep order), after <c>norm</c>.</summary>
    public Tensor ForwardEncoder(Tensor imgs, MaskPlan plan)
    {
        using var parts = ForwardEncoderParts(imgs, plan);
        return Norm.call(parts.Fused()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The encoder up to the fusion, with the three scales kept apart (for figures and checks):
    /// the kept tokens after blocks3, and the stage-1 and stage-2 features brought to the same tokens by
    /// stage1_output_decode (stride p1·p2) and stage2_output_decode (stride p2), all [N,Lk,E2].
    /// <see cref="ForwardEncoder"/> is norm(Stage3 + Stage1 + Stage2).
    /// </summary>
    public EncoderParts ForwardEncoderParts(Tensor imgs, MaskPlan plan)
    {
        CheckImages(imgs);
        var c = Config;
        if (plan.Mask.shape[0] != imgs.shape[0] || plan.NumTokens != c.NumPatches)
            throw new ArgumentException($"mask: expected [{imgs.shape[0]},{c.NumPatches}], got [{string.Join(",", plan.Mask.shape)}]");
        if (UsesSparseStages) return ForwardEncoderPartsSparse(imgs, plan);
        using var scope = NewDisposeScope();
        int e2 = c.EmbedDim[2];
        var (vis1, vis2) = StageVisibility(plan);
        var x = PatchEmbed1.call(ToCompute(imgs));                // [N,E0,4g,4g], full (unmasked) image
        x = RunConvStage(Blocks1, x, vis1);
        Tensor? s1 = c.MultiScaleFusion ? ToTokens(Stage1OutputDecode.call(x)) : null;   // [N,L,E2]
        x = PatchEmbed2.call(x);                                  // [N,E1,2g,2g]
        x = RunConvStage(Blocks2, x, vis2);
        Tensor? s2 = c.MultiScaleFusion ? ToTokens(Stage2OutputDecode.call(x)) : null;   // [N,L,E2]
        x = PatchEmbed3.call(x);                                  // [N,E2,g,g]
        x = PatchEmbed4.call(ToTokens(x));                        // [N,L,E2]
        x = x + PosEmbed;                                         // pos_embed after patch_embed4, before the gather
        var idx = plan.IdsKeep.unsqueeze(-1).expand(-1, -1, e2);  // [N,Lk,E2]
        x = x.gather(1, idx);                                     // [N,Lk,E2]
        x = RunBlocks(Blocks3, x);
        // Multi-scale fusion happens AFTER blocks3, BEFORE norm (models_convmae.forward_encoder).
        var parts = new EncoderParts(x, s1?.gather(1, idx), s2?.gather(1, idx));
        parts.Stage3.MoveToOuterDisposeScope(); parts.Stage1?.MoveToOuterDisposeScope(); parts.Stage2?.MoveToOuterDisposeScope();
        return parts;
    }

    /// <summary>The dense stages' masks (1 = visible), in the compute dtype: nearest ×(p1·p2) and ×p2 upsampling of the
    /// token mask, [N,1,4g,4g] and [N,1,2g,2g]; both null without masked convolution.</summary>
    public (Tensor? Stage1, Tensor? Stage2) StageVisibility(MaskPlan plan)
    {
        if (!Config.MaskedConv) return (null, null);
        int g = Config.GridSize;
        return (ToCompute(1 - Masking.Upsample(plan.Mask, g, Config.PatchSize[1] * Config.PatchSize[2])),
                ToCompute(1 - Masking.Upsample(plan.Mask, g, Config.PatchSize[2])));
    }

    /// <summary>
    /// Whether the encoder computes stages 1-2 on the visible blocks only (<c>sparse_stages</c>, default on). Exact only
    /// with masked convolution; the masked_conv = false ablation always runs the dense (official) form.
    /// </summary>
    public bool UsesSparseStages => Config.SparseStages && Config.MaskedConv;

    /// <summary>
    /// <see cref="ForwardEncoderParts"/> with stages 1-2 on the visible 16×16 blocks only (see <see cref="VisibleBlocks"/>
    /// for why this is exact). Blocks are [N,Lk,s,s,C] in ids_keep order, so the stage-3 tokens come out already
    /// gathered; pos_embed is gathered to match.
    /// </summary>
    private EncoderParts ForwardEncoderPartsSparse(Tensor imgs, MaskPlan plan)
    {
        var c = Config;
        using var scope = NewDisposeScope();
        using var visible = new VisibleBlocks(plan.IdsKeep, c.GridSize);
        long n = imgs.shape[0], lk = plan.NumKept;
        int e2 = c.EmbedDim[2];
        var x = PatchEmbed1.ForwardBlocks(visible.PixelBlocks(ToCompute(imgs)));   // [N,Lk,4,4,E0]
        foreach (var blk in Blocks1) x = blk.ForwardVisible(x, visible);
        Tensor? s1 = c.MultiScaleFusion ? VisibleBlocks.StridedConv(Stage1OutputDecode, x).view(n, lk, e2) : null;   // [N,Lk,E2]
        x = PatchEmbed2.ForwardBlocks(x);                                          // [N,Lk,2,2,E1]
        foreach (var blk in Blocks2) x = blk.ForwardVisible(x, visible);
        Tensor? s2 = c.MultiScaleFusion ? VisibleBlocks.StridedConv(Stage2OutputDecode, x).view(n, lk, e2) : null;   // [N,Lk,E2]
        x = PatchEmbed3.ForwardBlocks(x).view(n, lk, e2);                          // [N,Lk,E2]
        x = PatchEmbed4.call(x);
        var pos = PosEmbed.expand(n, -1, -1).gather(1, plan.IdsKeep.unsqueeze(-1).expand(-1, -1, e2));   // [N,Lk,E2]
        x = RunBlocks(Blocks3, x + pos);
        var parts = new EncoderParts(x, s1, s2);
        parts.Stage3.MoveToOuterDisposeScope(); parts.Stage1?.MoveToOuterDisposeScope(); parts.Stage2?.MoveToOuterDisposeScope();
        return parts;
    }

    // ------------------------------------------------------------------ decoder
    /// <summary>Decoder: latent [N,Lk,E2] + ids_restore [N,L] → pred [N,L,(p0p1p2)²·3].</summary>
    public Tensor ForwardDecoder(Tensor latent, Tensor idsRestore)
    {
        using var scope = NewDisposeScope();
        long n = latent.shape[0], L = idsRestore.shape[1];
        int dd = Config.DecoderEmbedDim;
        var x = DecoderEmbed.call(latent);                                    // [N,Lk,Dd]
        var maskTokens = MaskToken.expand(n, L - x.shape[1], dd);            // [N,L-Lk,Dd]
        x = cat([x, maskTokens], 1);                                          // [N,L,Dd], no cls token
        x = x.gather(1, idsRestore.unsqueeze(-1).expand(-1, -1, dd));        // unshuffle
        x = x + DecoderPosEmbed;
        x = RunBlocks(DecoderBlocks, x);
        x = DecoderPred.call(DecoderNorm.call(x));                            // [N,L,p²·3]
        return x.MoveToOuterDisposeScope();
    }

    // ------------------------------------------------------------------ patches and loss
    /// <summary>[N,3,H,W] → [N,L,p²·3] with p = p0·p1·p2 (official hard-codes 16); within a patch (row, col, channel).</summary>
    public Tensor Patchify(Tensor imgs)
    {
        int p = Config.TokenPixels;
        if (imgs.dim() != 4 || imgs.shape[2] != imgs.shape[3] || imgs.shape[2] % p != 0)
            throw new ArgumentException($"imgs: expected square [N,C,H,W] with H divisible by {p}, got [{string.Join(",", imgs.shape)}]");
        using var scope = NewDisposeScope();
        long n = imgs.shape[0], c = imgs.shape[1], h = imgs.shape[2] / p;
        var x = imgs.reshape(n, c, h, p, h, p).permute(0, 2, 4, 3, 5, 1);   // einsum nchpwq->nhwpqc
        return x.reshape(n, h * h, p * p * c).MoveToOuterDisposeScope();
    }

    /// <summary>Inverse of <see cref="Patchify"/> (the official unpatchify is broken: it reads a missing attribute).</summary>
    public Tensor Unpatchify(Tensor x)
    {
        int p = Config.TokenPixels, c = Config.InChans;
        long n = x.shape[0], h = (long)Math.Round(Math.Sqrt(x.shape[1]));
        if (h * h != x.shape[1] || x.shape[2] != p * p * c)
            throw new ArgumentException($"patches: expected [N,h·h,{p * p * c}], got [{string.Join(",", x.shape)}]");
        using var scope = NewDisposeScope();
        var y = x.reshape(n, h, h, p, p, c).permute(0, 5, 1, 3, 2, 4);        // einsum nhwpqc->nchpwq
        return y.reshape(n, c, h * p, h * p).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The regression target: patchify(imgs), normalised per patch when norm_pix_loss
    /// ((t - mean) / sqrt(var + 1e-6), UNBIASED var as torch.var's default).
    /// </summary>
    public Tensor Target(Tensor imgs)
    {
        using var scope = NewDisposeScope();
        var target = Patchify(imgs);                                          // [N,L,p²·3]
        if (Config.NormPixLoss)
        {
            var mean = target.mean([-1], keepdim: true);
            var variance = target.var(-1, unbiased: true, keepdim: true);
            target = (target - mean) / (variance + 1e-6).sqrt();
        }
        return target.MoveToOuterDisposeScope();
    }

    /// <summary>Mean squared error per patch, averaged over the REMOVED patches only (mask = 1).</summary>
    public Tensor ForwardLoss(Tensor imgs, Tensor pred, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var loss = (pred - Target(imgs)).pow(2).mean([-1]);                  // [N,L]
        return ((loss * mask).sum() / mask.sum()).MoveToOuterDisposeScope();
    }

    // ------------------------------------------------------------------ forward
    /// <summary>Official forward: fresh torch.rand noise and the config's mask_ratio.</summary>
    public override PretrainOutput forward(Tensor imgs)
    {
        using var plan = Masking.Random(imgs.shape[0], Config.NumPatches, Config.MaskRatio, imgs.device);
        return Forward(imgs, plan);
    }

    /// <summary>Forward with the official masking drawn from the given noise [N,L].</summary>
    public PretrainOutput Forward(Tensor imgs, Tensor noise, double? maskRatio = null)
    {
        using var plan = RandomMasking(noise, maskRatio);
        return Forward(imgs, plan);
    }

    /// <summary>Forward with a given masking (see <see cref="Masking.FromNoise"/>, <see cref="Masking.FromMask"/>).</summary>
    public PretrainOutput Forward(Tensor imgs, MaskPlan plan)
    {
        using var scope = NewDisposeScope();
        var latent = ForwardEncoder(imgs, plan);                 // [N,Lk,E2]
        var pred = ForwardDecoder(latent, plan.IdsRestore);      // [N,L,p²·3]
        if (pred.dtype != imgs.dtype) pred = pred.to(imgs.dtype);  // mixed precision: the loss in float32, on float32 targets
        var loss = ForwardLoss(imgs, pred, plan.Mask);           // scalar
        var mask = plan.Mask.clone();
        var ids = plan.IdsRestore.clone();
        scope.MoveToOuter(loss, pred, mask, latent, ids);
        return new PretrainOutput(loss, pred, mask, latent, ids);
    }
}
