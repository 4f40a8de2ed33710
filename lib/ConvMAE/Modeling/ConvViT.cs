using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// The fine-tune / linear-probe classifier, official <c>models_convvit.ConvViT</c>. forward: images [N,3,S,S] → logits
/// [N,num_classes] (or features when num_classes ≤ 0). State keys: pos_embed, patch_embed1..4, blocks1..3, then
/// <c>norm</c> (global_pool = false) or <c>fc_norm</c> (global_pool = true, registered after head), and head.
/// </summary>
public sealed class ConvViT : ConvViTBase<Tensor>
{
    [ComponentName(Name = "pos_drop")] private readonly Dropout posDrop;
    /// <summary>norm_layer(E2); present only when global_pool = false (official: <c>del self.norm</c> otherwise).</summary>
    [ComponentName(Name = "norm")] public readonly LayerNorm? Norm;
    /// <summary>norm_layer(E2) after the token mean; present only when global_pool = true.</summary>
    [ComponentName(Name = "fc_norm")] public readonly LayerNorm? FcNorm;
    /// <summary>Linear(E2, num_classes), or Identity when num_classes ≤ 0.</summary>
    [ComponentName(Name = "head")] public nn.Module<Tensor, Tensor> Head { get; private set; }

    /// <summary>Builds and initialises the classifier as official (trunc_normal(.02) Linears and pos_embed).</summary>
    public ConvViT(ConvViTConfig config)
        : base(nameof(ConvViT), config, learnablePosEmbed: true, qkvBias: config.QkvBias,
               config.DropRate, config.AttnDropRate, DropPathSchedule(config))
    {
        var c = Config;
        int e2 = c.EmbedDim[2];
        RegisterStem();
        posDrop = nn.Dropout(c.DropRate);
        register_module("pos_drop", posDrop);
        RegisterStages();
        if (!c.GlobalPool)
        {
            Norm = nn.LayerNorm(e2, eps: c.LayerNormEps);
            register_module("norm", Norm);
        }
        Head = c.NumClasses > 0 ? nn.Linear(e2, c.NumClasses) : nn.Identity();
        register_module("head", Head);
        if (c.GlobalPool)
        {
            FcNorm = nn.LayerNorm(e2, eps: c.LayerNormEps);
            register_module("fc_norm", FcNorm);
        }

        // vision_transformer.ConvViT.__init__: trunc_normal_(pos_embed, .02), then apply(_init_weights).
        Init.TruncNormal(PosEmbed, 0.02);
        Init.LinearsAndNorms(this, w => Init.TruncNormal(w, 0.02));
    }

    /// <summary>
    /// Official drop-path schedule: <c>torch.linspace(0, drop_path_rate, sum(depth))</c> (float32 values) over ALL
    /// blocks of the three stages; blocks1[i] gets dpr[i], blocks2[i] dpr[d0+i], blocks3[i] dpr[d0+d1+i].
    /// </summary>
    public static double[] DropPathSchedule(ConvViTConfig c)
    {
        int total = c.Depth.Sum();
        if (total == 0) return [];
        using var t = linspace(0, c.DropPathRate, total, dtype: float32);
        return t.data<float>().Select(v => (double)v).ToArray();
    }

    /// <summary>
    /// Pooled features [N,E2] (official forward_features). Where no gradient reaches the encoder (inference, evaluation,
    /// linear probing's frozen encoder), the batch runs in chunks of <see cref="InferenceChunkFor"/> images: every
    /// operation acts on each image alone, so the features are the whole batch's (bit for bit here;
    /// <c>InferenceChunkTests</c> compares them), and a chunk's stage-1 maps stay in the processor's cache. Measured
    /// (convmae_tiny_cpu, 64 px, 256 images, 2 threads, AMD EPYC family 25): 147-176 ms whole, 102-108 ms in chunks of 64;
    /// convmae_small_cpu at 128 px, 64 images: 458-467 ms whole, 315-360 ms in chunks of 16 or 8; ConvMAE-Base at 224 px
    /// gained nothing measurable, and the rule below leaves it whole.
    /// </summary>
    public Tensor ForwardFeatures(Tensor imgs)
    {
        using var scope = NewDisposeScope();
        int chunk = InferenceChunkFor(imgs);
        if (chunk == 0) return Pool(ForwardTokens(imgs)).MoveToOuterDisposeScope();
        long n = imgs.shape[0];
        var features = new List<Tensor>();
        for (long i = 0; i < n; i += chunk)
        {
            using var part = NewDisposeScope();
            features.Add(Pool(ForwardTokens(imgs.narrow(0, i, Math.Min(chunk, n - i)))).MoveToOuterDisposeScope());
        }
        return cat(features, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Images per chunk of <see cref="ForwardFeatures"/> where no gradient reaches the encoder: null (default) picks it
    /// from the stage-1 map's size (<see cref="StageOneElementsPerChunk"/>); a value below 2 keeps the official whole-batch forward.
    /// </summary>
    public int? InferenceChunk { get; set; }

    /// <summary>Stage-1 map elements per chunk (2 MB of float32): 64 images of convmae_tiny_cpu at 64 px, 8 of
    /// convmae_small_cpu at 128 px; a map larger than half of it (ConvMAE-Base at 224 px: 0.8 M per image) is not chunked.</summary>
    public const long StageOneElementsPerChunk = 1L << 19;

    /// <summary>
    /// The chunk <see cref="ForwardFeatures"/> uses for this batch, 0 for the whole batch: 0 where a gradient may reach
    /// the encoder (grad mode on and the images or any parameter outside the head require one), where the training
    /// mode draws random numbers in the encoder (dropout or drop path above 0: chunks would draw them in another
    /// order than the official forward), or where a chunk would hold the whole batch.
    /// </summary>
    public int InferenceChunkFor(Tensor imgs)
    {
        CheckImages(imgs);                                       // the kit's error on a wrong shape, before any shape is read
        long n = imgs.shape[0];
        long perImage = (imgs.shape[2] / Config.PatchSize[0]) * (imgs.shape[3] / Config.PatchSize[0]) * Config.EmbedDim[0];
        long chunk = InferenceChunk ?? StageOneElementsPerChunk / Math.Max(1, perImage);
        if (chunk < 2 || chunk >= n) return 0;
        if (training && (Config.DropRate > 0 || Config.AttnDropRate > 0 || Config.DropPathRate > 0)) return 0;
        if (is_grad_enabled() && (imgs.requires_grad || EncoderNeedsGradient())) return 0;
        return (int)chunk;
    }

    bool EncoderNeedsGradient() =>
        named_parameters().Any(p => p.parameter.requires_grad && !p.name.StartsWith("head.", StringComparison.Ordinal));

    /// <summary>Stage-3 tokens [N,L,E2] → pooled features [N,E2]: fc_norm of the token mean (global_pool) or norm of token 0.</summary>
    public Tensor Pool(Tensor tokens) => Config.GlobalPool
        ? FcNorm!.call(tokens.mean([1]))                          // mean over tokens, then LN
        : Norm!.call(tokens)[.., 0];                              // QUIRK: the first PATCH token (there is no cls token)

    /// <summary>Stage-3 tokens after blocks3, before the final norm/pooling: [N,L,E2].</summary>
    public Tensor ForwardTokens(Tensor imgs)
    {
        CheckImages(imgs);
        using var scope = NewDisposeScope();
        var x = imgs;
        foreach (var (_, part) in TokenParts()) x = part(x);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="ForwardTokens"/> as named parts in order, images [N,3,S,S] in, tokens [N,L,E2] out: what the forward
    /// runs and what <c>bench finetune --profile</c> times one by one. Official NCHW form: the official modules. With
    /// <see cref="ConvViTConfig.ChannelsLastStages"/> the stage maps stay channels-last [N,h,w,C] from patch_embed1 to
    /// patch_embed3 (<see cref="PatchEmbed.ForwardChannelsLast"/>), so every embedding is a matrix product on the map
    /// as it is. (The downstream backbones run the same forms through <see cref="ConvStages"/>.)
    /// </summary>
    internal IReadOnlyList<(string Name, Func<Tensor, Tensor> Forward)> TokenParts()
    {
        bool cl = Config.ChannelsLastStages;
        var parts = new List<(string, Func<Tensor, Tensor>)>
        {
            // QUIRK: pos_drop right after patch_embed1, as official.
            ("patch_embed1", cl ? t => posDrop.call(PatchEmbed1.ForwardChannelsLast(ToCompute(t).permute(0, 2, 3, 1)))                              // [N,4g,4g,E0]
                                : t => posDrop.call(PatchEmbed1.call(ToCompute(t)))),                                                                   // [N,E0,4g,4g]
        };
        for (int i = 0; i < Blocks1.Count; i++) parts.Add(($"blocks1.{i}", ConvStagePart(Blocks1[i], cl)));
        parts.Add(("patch_embed2", cl ? t => PatchEmbed2.ForwardChannelsLast(t) : t => PatchEmbed2.call(t)));
        for (int i = 0; i < Blocks2.Count; i++) parts.Add(($"blocks2.{i}", ConvStagePart(Blocks2[i], cl)));
        parts.Add(("patch_embed3,patch_embed4", cl
            ? t => { var e = PatchEmbed3.ForwardChannelsLast(t); return PatchEmbed4.call(e.reshape(e.shape[0], -1, e.shape[3])) + PosEmbed; }        // token l = row·g + col
            : t => PatchEmbed4.call(ToTokens(PatchEmbed3.call(t))) + PosEmbed));                                                                         // [N,L,E2], Linear applied (models_convvit.py:40)
        parts.Add(("blocks3", t => RunBlocks(Blocks3, t)));
        return parts;
    }

    static Func<Tensor, Tensor> ConvStagePart(CBlock block, bool channelsLast) =>
        channelsLast ? block.ForwardChannelsLast : t => block.call(t, null);

    /// <summary>
    /// Linear probing as the official main_linprobe: the head's weight is re-drawn with trunc_normal(std 0.01), then
    /// wrapped as <c>Sequential(BatchNorm1d(E2, affine=False, eps=1e-6), head)</c> (state keys head.0.running_mean/var,
    /// head.0.num_batches_tracked, head.1.weight/bias), and everything but the head is frozen.
    /// </summary>
    public void UseLinearProbeHead()
    {
        if (Head is not Linear linear) throw new InvalidOperationException("the classifier has no linear head to probe with");
        Init.TruncNormal(linear.weight!, 0.01);
        foreach (var p in parameters()) p.requires_grad = false;
        var bn = nn.BatchNorm1d(Config.EmbedDim[2], eps: 1e-6, affine: false);
        Head = nn.Sequential(("0", bn), ("1", linear));
        register_module("head", null!);   // TorchSharp: registering null removes the old "head"
        register_module("head", Head);
        foreach (var p in Head.parameters()) p.requires_grad = true;
    }

    /// <summary>
    /// <see cref="UseLinearProbeHead"/> with <paramref name="count"/> probe heads side by side (<see cref="ProbeHeads"/>),
    /// all starting from the same re-drawn weights; one head is exactly the official probe (official state keys).
    /// </summary>
    public void UseLinearProbeHeads(int count)
    {
        UseLinearProbeHead();
        if (count == 1) return;
        var linear = (Linear)((Sequential)Head).children().ElementAt(1);
        var heads = new ProbeHeads(linear, count);
        Head = heads;
        register_module("head", null!);
        register_module("head", Head);
        foreach (var p in Head.parameters()) p.requires_grad = true;
    }

    public override Tensor forward(Tensor imgs)                  // [N,3,S,S] → [N,num_classes]
    {
        using var scope = NewDisposeScope();
        var logits = Head.call(ForwardFeatures(imgs));
        if (logits.dtype != imgs.dtype) logits = logits.to(imgs.dtype);   // mixed precision: float32 logits for the loss
        return logits.MoveToOuterDisposeScope();
    }
}
