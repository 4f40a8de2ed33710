using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConvMAE.Modeling;

/// <summary>
/// Constructor arguments of the ConvMAE model family (pretraining <see cref="MaskedAutoencoderConvViT"/> and
/// classifier <see cref="ConvViT"/>), serialised with the OFFICIAL keyword names (<c>img_size</c>, <c>embed_dim</c>, ...).
/// Unset values are the official <c>convmae_convvit_base_patch16</c> / <c>convvit_base_patch16</c> presets.
/// Lists hold one entry per stage: stage 1 and 2 are convolutional (CBlock), stage 3 is a transformer (Block).
/// </summary>
/// <remarks>
/// Not in the official kwargs but implied there (see the spec §0): <c>in_chans</c> = 3, <c>layer_norm_eps</c> (the eps of
/// <c>norm_layer</c>, 1e-6 in the presets), <c>qkv_bias</c> (true in both presets; hard-coded true in the official
/// pretraining model). <c>mask_ratio</c> is a forward argument in the official code; here it is the default for
/// <see cref="MaskedAutoencoderConvViT.forward"/>. <c>masked_conv</c> and <c>multi_scale_fusion</c> are ablation
/// switches of this kit (both true = the paper).
/// </remarks>
public sealed record ConvViTConfig
{
    /// <summary>Input side seen by patch_embed1/2/3, e.g. [224,56,28]. Each entry is the previous one divided by its patch size.</summary>
    [JsonPropertyName("img_size")] public IReadOnlyList<int> ImgSize { get; init; } = [224, 56, 28];
    /// <summary>Kernel = stride of patch_embed1/2/3, e.g. [4,2,2]; their product (16) is the pixel size of a token.</summary>
    [JsonPropertyName("patch_size")] public IReadOnlyList<int> PatchSize { get; init; } = [4, 2, 2];
    [JsonPropertyName("in_chans")] public int InChans { get; init; } = 3;
    [JsonPropertyName("embed_dim")] public IReadOnlyList<int> EmbedDim { get; init; } = [256, 384, 768];
    [JsonPropertyName("depth")] public IReadOnlyList<int> Depth { get; init; } = [2, 2, 11];
    /// <summary>Heads of every stage-3 Block (CBlocks accept and ignore it, as official).</summary>
    [JsonPropertyName("num_heads")] public int NumHeads { get; init; } = 12;
    /// <summary>MLP ratio per stage. QUIRK: mlp_ratio[0] also sizes the decoder MLPs (models_convmae.py:64).</summary>
    [JsonPropertyName("mlp_ratio")] public IReadOnlyList<double> MlpRatio { get; init; } = [4, 4, 4];
    [JsonPropertyName("qkv_bias")] public bool QkvBias { get; init; } = true;
    /// <summary>Optional override of the attention scale (official <c>qk_scale</c>); null = head_dim^-0.5.</summary>
    [JsonPropertyName("qk_scale")] public double? QkScale { get; init; }
    /// <summary>eps of <c>norm_layer</c> LNs (Block norms, norm, fc_norm, decoder_norm). PatchEmbed/CBlock LNs stay at 1e-5.</summary>
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-6;

    // ---- pretraining (MaskedAutoencoderConvViT) ----
    [JsonPropertyName("decoder_embed_dim")] public int DecoderEmbedDim { get; init; } = 512;
    [JsonPropertyName("decoder_depth")] public int DecoderDepth { get; init; } = 8;
    [JsonPropertyName("decoder_num_heads")] public int DecoderNumHeads { get; init; } = 16;
    [JsonPropertyName("norm_pix_loss")] public bool NormPixLoss { get; init; }
    [JsonPropertyName("mask_ratio")] public double MaskRatio { get; init; } = 0.75;
    /// <summary>Ablation: multiply the stage-1/2 depthwise-conv input by the visible mask (paper: true).</summary>
    [JsonPropertyName("masked_conv")] public bool MaskedConv { get; init; } = true;
    /// <summary>Ablation: add the stage-1/2 decode-conv features to the stage-3 tokens before <c>norm</c> (paper: true).</summary>
    [JsonPropertyName("multi_scale_fusion")] public bool MultiScaleFusion { get; init; } = true;
    /// <summary>
    /// Kit speed switch (not an official key): with <c>masked_conv</c>, run stages 1-2 of pretraining on the visible
    /// 16×16 blocks only (<see cref="VisibleBlocks"/>). Exact, because every stage-1/2 operation but the masked depthwise
    /// convolution is per position and the block-aligned embeddings never mix blocks; false = the official dense form.
    /// Without masked convolution the dense form is always used (masked positions then do reach visible tokens).
    /// </summary>
    [JsonPropertyName("sparse_stages")] public bool SparseStages { get; init; } = true;

    // ---- classifier (models_convvit.ConvViT) ----
    /// <summary>Head width; ≤ 0 gives no head (Identity).</summary>
    [JsonPropertyName("num_classes")] public int NumClasses { get; init; } = 1000;
    /// <summary>true: fc_norm(mean over tokens) (main_finetune default); false: norm(x)[:,0] (linprobe default).</summary>
    [JsonPropertyName("global_pool")] public bool GlobalPool { get; init; } = true;
    [JsonPropertyName("drop_rate")] public double DropRate { get; init; }
    [JsonPropertyName("attn_drop_rate")] public double AttnDropRate { get; init; }
    /// <summary>Classifier only (the official pretraining model has no drop path). Linear over all blocks of all stages.</summary>
    [JsonPropertyName("drop_path_rate")] public double DropPathRate { get; init; }
    /// <summary>
    /// Kit speed switch (not an official key): run the classifier's stages 1-2 on channels-last maps
    /// (<see cref="CBlock.ForwardChannelsLast"/>: matrix-product 1×1 convolutions, a written-out depthwise backward,
    /// no layout copies). Same parameters and the same function; false = the official NCHW form.
    /// </summary>
    [JsonPropertyName("channels_last_stages")] public bool ChannelsLastStages { get; init; } = true;

    // ---- derived ----
    /// <summary>Input side in pixels (img_size[0]).</summary>
    [JsonIgnore] public int InputSize => ImgSize[0];
    /// <summary>Pixels per stage-3 token side: p0·p1·p2 (16 for the presets).</summary>
    [JsonIgnore] public int TokenPixels => PatchSize[0] * PatchSize[1] * PatchSize[2];
    /// <summary>Stage-3 grid side g (14 at 224 px).</summary>
    [JsonIgnore] public int GridSize => ImgSize[2] / PatchSize[2];
    /// <summary>Number of stage-3 tokens L = g².</summary>
    [JsonIgnore] public int NumPatches => GridSize * GridSize;
    /// <summary>Width of a patchified target: (p0·p1·p2)²·in_chans.</summary>
    [JsonIgnore] public int PatchDim => TokenPixels * TokenPixels * InChans;

    /// <summary>The same model for a square input of <paramref name="pixels"/> (must be divisible by p0·p1·p2).</summary>
    public ConvViTConfig WithInputSize(int pixels)
    {
        if (pixels <= 0 || pixels % TokenPixels != 0)
            throw new ArgumentException($"img_size: {pixels} px is not a positive multiple of {TokenPixels} (p0·p1·p2)", nameof(pixels));
        return this with { ImgSize = [pixels, pixels / PatchSize[0], pixels / (PatchSize[0] * PatchSize[1])] };
    }

    /// <summary>Checks the shapes the official code silently assumes; throws an ArgumentException naming the field.</summary>
    public ConvViTConfig Validate()
    {
        void Three<T>(IReadOnlyList<T>? v, string name)
        {
            if (v is null || v.Count != 3) throw new ArgumentException($"{name}: expected 3 values (one per stage), got {v?.Count ?? 0}");
        }
        Three(ImgSize, "img_size"); Three(PatchSize, "patch_size"); Three(EmbedDim, "embed_dim");
        Three(Depth, "depth"); Three(MlpRatio, "mlp_ratio");
        for (int i = 0; i < 3; i++)
        {
            if (PatchSize[i] <= 0 || ImgSize[i] <= 0 || ImgSize[i] % PatchSize[i] != 0)
                throw new ArgumentException($"img_size[{i}]={ImgSize[i]} is not a positive multiple of patch_size[{i}]={PatchSize[i]}");
            if (i < 2 && ImgSize[i + 1] != ImgSize[i] / PatchSize[i])
                throw new ArgumentException($"img_size[{i + 1}]={ImgSize[i + 1]} must be img_size[{i}]/patch_size[{i}] = {ImgSize[i] / PatchSize[i]}");
            if (EmbedDim[i] <= 0 || Depth[i] < 0 || MlpRatio[i] <= 0)
                throw new ArgumentException($"embed_dim/depth/mlp_ratio[{i}] out of range");
        }
        if (InChans <= 0) throw new ArgumentException($"in_chans={InChans} must be positive");
        if (NumHeads <= 0 || EmbedDim[2] % NumHeads != 0)
            throw new ArgumentException($"num_heads={NumHeads} must divide embed_dim[2]={EmbedDim[2]}");
        if (MaskRatio < 0 || MaskRatio >= 1) throw new ArgumentException($"mask_ratio={MaskRatio} must be in [0,1)");
        return this;
    }

    /// <summary>Extra checks for the pretraining model (decoder and sin-cos tables).</summary>
    public ConvViTConfig ValidatePretrain()
    {
        Validate();
        if (DecoderNumHeads <= 0 || DecoderEmbedDim % DecoderNumHeads != 0)
            throw new ArgumentException($"decoder_num_heads={DecoderNumHeads} must divide decoder_embed_dim={DecoderEmbedDim}");
        if (EmbedDim[2] % 4 != 0 || DecoderEmbedDim % 4 != 0)
            throw new ArgumentException($"embed_dim[2]={EmbedDim[2]} and decoder_embed_dim={DecoderEmbedDim} must be multiples of 4 (2-D sin-cos tables)");
        return this;
    }

    /// <summary>Value equality over every field (lists compared element-wise), via the JSON form.</summary>
    public bool Equals(ConvViTConfig? other) => other is not null && ToJson() == other.ToJson();
    public override int GetHashCode() => ToJson().GetHashCode();
    /// <summary>One-line JSON with the official names (the default record printout shows list types, not values).</summary>
    public override string ToString() => JsonSerializer.Serialize(this);

    // ---------------- JSON ----------------
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        // A key this record does not know is an error, not silently dropped.
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static ConvViTConfig FromJson(string json) =>
        JsonSerializer.Deserialize<ConvViTConfig>(json, JsonOptions)
        ?? throw new ArgumentException("config JSON is null");

    // ---------------- presets ----------------
    /// <summary>
    /// Official ConvMAE-Base (<c>convmae_convvit_base_patch16</c> / <c>convvit_base_patch16</c>), 224 px.
    /// Pretraining model 115,041,408 state values (incl. 250,880 frozen sin-cos values);
    /// classifier with 1000 classes 85,374,824.
    /// </summary>
    public static ConvViTConfig ConvMAEBase { get; } = new();

    /// <summary>
    /// CPU notebook preset, 64 px input (4×4 = 16 tokens, 4 visible at mask ratio 0.75): embed [32,64,128], depth [1,1,2],
    /// 4 heads, decoder 64/1/4. Pretraining model 721,216 state values (incl. 3,072 frozen sin-cos values);
    /// classifier with 10 classes 514,570.
    /// </summary>
    public static ConvViTConfig ConvMAETinyCpu { get; } = new()
    {
        ImgSize = [64, 16, 8], EmbedDim = [32, 64, 128], Depth = [1, 1, 2], NumHeads = 4,
        DecoderEmbedDim = 64, DecoderDepth = 1, DecoderNumHeads = 4, NumClasses = 10,
    };

    /// <summary>
    /// CPU notebook preset, 128 px input (8×8 = 64 tokens, 16 visible at mask ratio 0.75): the width of the parity fixtures,
    /// embed [64,96,192], depth [2,2,3], 4 heads, decoder 128/2/4. Pretraining model 2,564,448 state values
    /// (incl. 20,480 frozen sin-cos values); classifier with 10 classes 1,766,762.
    /// </summary>
    public static ConvViTConfig ConvMAESmallCpu { get; } = new()
    {
        ImgSize = [128, 32, 16], EmbedDim = [64, 96, 192], Depth = [2, 2, 3], NumHeads = 4,
        DecoderEmbedDim = 128, DecoderDepth = 2, DecoderNumHeads = 4, NumClasses = 10,
    };

    /// <summary>Presets by name: <c>convmae_base</c>, <c>convmae_small_cpu</c>, <c>convmae_tiny_cpu</c>.</summary>
    public static IReadOnlyDictionary<string, ConvViTConfig> Presets { get; } = new Dictionary<string, ConvViTConfig>
    {
        ["convmae_base"] = ConvMAEBase,
        ["convmae_small_cpu"] = ConvMAESmallCpu,
        ["convmae_tiny_cpu"] = ConvMAETinyCpu,
    };

    public static ConvViTConfig Preset(string name) =>
        Presets.TryGetValue(name, out var c) ? c
        : throw new ArgumentException($"unknown preset '{name}'; known: {string.Join(", ", Presets.Keys)}", nameof(name));
}
