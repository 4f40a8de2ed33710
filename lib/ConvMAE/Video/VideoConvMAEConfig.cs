using System.Text.Json;
using System.Text.Json.Serialization;
using ConvMAE.Modeling;

namespace ConvMAE.Video;

/// <summary>
/// Constructor arguments of the VideoConvMAE family (pretraining <see cref="VideoMaskedAutoencoder"/>, classifier
/// <see cref="VideoConvViT"/>). No official code exists (the paper's VIDEO.md was an empty file), so every choice the
/// paper leaves open is the kit's and is named here; names follow the image model and VideoMAE's flags.
/// Defaults are VideoConvMAE-B at 16×224²: cube embedding 2×4×4 → [8,56,56], stages 1-2 masked spatio-temporal
/// CBlocks (3×5×5 depthwise), stage 2/3 embeddings 1×2×2 → [8,28,28] → [8,14,14] = 1,568 tokens.
/// </summary>
/// <remarks>
/// Kit choices (switchable where a user may want the other one):
/// <list type="bullet">
/// <item><c>dw_kernel_t</c> = 3 (1 = per-frame 5×5 depthwise convolutions).</item>
/// <item><c>temporal_padding</c> = "replicate": the depthwise conv pads time by repeating the edge slice (space stays
/// zero-padded). With it a still clip computes exactly what the image model computes on its frame, which makes an
/// I3D-inflated image checkpoint exact at the clip's ends; "zeros" is the plain Conv3d padding.</item>
/// <item>Position tables: VideoMAE's fixed 1-D sinusoid table over the flattened (t, row, col) token index in
/// pretraining (encoder and decoder); a learnable [1,L,E2] table in the classifier (as the image classifier),
/// initialised from the checkpoint it starts from.</item>
/// <item>Tube masking as VideoMAE's TubeMaskingGenerator: int(ratio·L_s) of the L_s spatial tokens removed, the same
/// ones in every time slice (so 19.6 → 20 kept of 196 at 0.9, not the image model's int(L·(1−ratio)) = 19).</item>
/// <item>Decoder as VideoMAE-Base: visible tokens through encoder_to_decoder (no bias; here <c>decoder_embed</c>), plus
/// the table; mask tokens appended after the visible ones (no unshuffle); the prediction of the masked tokens only.</item>
/// <item><c>msd</c> (multi-scale decoder): before each decoder block, <c>decoder_msd.i</c> = Linear(2·E2, Dd), zero
/// initialised, maps cat(stage-1, stage-2 features) of each visible token and adds it to that token (mask tokens get
/// nothing: stage-1/2 features at masked positions carry the masked pixels through the residual path).</item>
/// </list>
/// </remarks>
public sealed record VideoConvMAEConfig
{
    [JsonPropertyName("img_size")] public int ImgSize { get; init; } = 224;
    /// <summary>Spatial kernel = stride of patch_embed1/2/3 (their product, 16, is a token's pixel side).</summary>
    [JsonPropertyName("patch_size")] public IReadOnlyList<int> PatchSize { get; init; } = [4, 2, 2];
    [JsonPropertyName("num_frames")] public int NumFrames { get; init; } = 16;
    /// <summary>Temporal kernel = stride of the cube embedding (patch_embed1); stages 2-3 keep the time axis.</summary>
    [JsonPropertyName("tubelet_size")] public int TubeletSize { get; init; } = 2;
    [JsonPropertyName("in_chans")] public int InChans { get; init; } = 3;
    [JsonPropertyName("embed_dim")] public IReadOnlyList<int> EmbedDim { get; init; } = [256, 384, 768];
    [JsonPropertyName("depth")] public IReadOnlyList<int> Depth { get; init; } = [2, 2, 11];
    [JsonPropertyName("num_heads")] public int NumHeads { get; init; } = 12;
    [JsonPropertyName("mlp_ratio")] public IReadOnlyList<double> MlpRatio { get; init; } = [4, 4, 4];
    [JsonPropertyName("qkv_bias")] public bool QkvBias { get; init; } = true;
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-6;
    /// <summary>Temporal size of the stage-1/2 depthwise kernels: 3 (3×5×5, spatio-temporal) or 1 (per-frame 5×5).</summary>
    [JsonPropertyName("dw_kernel_t")] public int DwKernelT { get; init; } = 3;
    /// <summary>"replicate" (default) or "zeros": how the depthwise conv pads the time axis.</summary>
    [JsonPropertyName("temporal_padding")] public string TemporalPadding { get; init; } = "replicate";

    // ---- pretraining ----
    [JsonPropertyName("decoder_embed_dim")] public int DecoderEmbedDim { get; init; } = 384;
    [JsonPropertyName("decoder_depth")] public int DecoderDepth { get; init; } = 4;
    [JsonPropertyName("decoder_num_heads")] public int DecoderNumHeads { get; init; } = 6;
    [JsonPropertyName("mask_ratio")] public double MaskRatio { get; init; } = 0.9;
    /// <summary>Only "tube" (VideoMAE's default) is implemented.</summary>
    [JsonPropertyName("mask_type")] public string MaskType { get; init; } = "tube";
    /// <summary>VideoMAE's normlize_target: each tubelet's target normalised per channel ((x − mean) / (std + 1e-6), unbiased).</summary>
    [JsonPropertyName("norm_target")] public bool NormTarget { get; init; } = true;
    /// <summary>Mask the depthwise-conv input (the paper); false lets masked pixels leak (ablation).</summary>
    [JsonPropertyName("masked_conv")] public bool MaskedConv { get; init; } = true;
    /// <summary>Add the stage-1/2 features to the visible tokens before <c>norm</c>, as the image model.</summary>
    [JsonPropertyName("multi_scale_fusion")] public bool MultiScaleFusion { get; init; } = true;
    /// <summary>The MSD variant: the decoder also receives the stage-1/2 features (see the remarks).</summary>
    [JsonPropertyName("msd")] public bool Msd { get; init; }

    // ---- classifier ----
    [JsonPropertyName("num_classes")] public int NumClasses { get; init; } = 400;
    [JsonPropertyName("drop_rate")] public double DropRate { get; init; }
    [JsonPropertyName("attn_drop_rate")] public double AttnDropRate { get; init; }
    [JsonPropertyName("drop_path_rate")] public double DropPathRate { get; init; } = 0.1;
    /// <summary>VideoMAE's head init: trunc_normal(.02), then weight and bias × init_scale.</summary>
    [JsonPropertyName("init_scale")] public double InitScale { get; init; } = 0.001;
    /// <summary>
    /// Kit speed switch (not a paper choice): run stages 1-2 on channels-last maps (<see cref="CBlock3D.ForwardChannelsLast"/>:
    /// matrix-product 1×1×1 convolutions, the depthwise convolution as 2-D ones with a written-out backward, dropped
    /// samples not computed). Same parameters and the same function; false = the NCDHW Conv3d form.
    /// </summary>
    [JsonPropertyName("channels_last_stages")] public bool ChannelsLastStages { get; init; } = true;
    /// <summary>
    /// Kit speed switch (pretraining): stages 1-2 on the visible tubes only, as the image model's sparse form
    /// (<see cref="VideoMaskedAutoencoder"/>); exact, since with masked convolution nothing at a masked position reaches a
    /// visible token. Used when masked_conv is on; false = every position computed.
    /// </summary>
    [JsonPropertyName("sparse_stages")] public bool SparseStages { get; init; } = true;

    // ---- derived ----
    [JsonIgnore] public int TokenPixels => PatchSize[0] * PatchSize[1] * PatchSize[2];
    /// <summary>Spatial token grid side g (14 at 224 px).</summary>
    [JsonIgnore] public int GridSize => ImgSize / TokenPixels;
    /// <summary>Time slices T' = num_frames / tubelet_size (8 at 16 frames).</summary>
    [JsonIgnore] public int TimeSlices => NumFrames / TubeletSize;
    /// <summary>Tokens per time slice L_s = g².</summary>
    [JsonIgnore] public int SpatialTokens => GridSize * GridSize;
    /// <summary>All tokens L = T'·L_s, index t·L_s + row·g + col.</summary>
    [JsonIgnore] public int NumPatches => TimeSlices * SpatialTokens;
    /// <summary>Spatial tokens kept per slice under tube masking: L_s − int(ratio·L_s) (VideoMAE).</summary>
    public int KeptPerSlice(double? maskRatio = null) => SpatialTokens - (int)(SpatialTokens * (maskRatio ?? MaskRatio));
    /// <summary>Values of one tubelet target: tubelet·16·16·3 (1,536 for the base model).</summary>
    [JsonIgnore] public int PatchDim => TubeletSize * TokenPixels * TokenPixels * InChans;
    [JsonIgnore] public bool ReplicatePadding => TemporalPadding == "replicate";

    /// <summary>The image model with the same widths, depths and pixel patches (what inflation starts from).</summary>
    public ConvViTConfig ToImageConfig() => new ConvViTConfig
    {
        PatchSize = PatchSize, InChans = InChans, EmbedDim = EmbedDim, Depth = Depth, NumHeads = NumHeads,
        MlpRatio = MlpRatio, QkvBias = QkvBias, LayerNormEps = LayerNormEps, NumClasses = NumClasses, GlobalPool = true,
        DropRate = DropRate, AttnDropRate = AttnDropRate, DropPathRate = DropPathRate,
    }.WithInputSize(ImgSize);

    /// <summary>Checks the shapes; throws an ArgumentException naming the field.</summary>
    public VideoConvMAEConfig Validate()
    {
        if (PatchSize is not { Count: 3 } || EmbedDim is not { Count: 3 } || Depth is not { Count: 3 } || MlpRatio is not { Count: 3 })
            throw new ArgumentException("patch_size, embed_dim, depth and mlp_ratio need 3 values (one per stage)");
        if (ImgSize <= 0 || ImgSize % TokenPixels != 0)
            throw new ArgumentException($"img_size={ImgSize} is not a positive multiple of {TokenPixels} (p0·p1·p2)");
        if (TubeletSize <= 0 || NumFrames <= 0 || NumFrames % TubeletSize != 0)
            throw new ArgumentException($"num_frames={NumFrames} is not a positive multiple of tubelet_size={TubeletSize}");
        if (DwKernelT is not (1 or 3 or 5)) throw new ArgumentException($"dw_kernel_t={DwKernelT}: expected 1, 3 or 5");
        if (TemporalPadding is not ("replicate" or "zeros")) throw new ArgumentException($"temporal_padding='{TemporalPadding}': expected replicate or zeros");
        if (MaskType != "tube") throw new ArgumentException($"mask_type='{MaskType}': only tube masking is implemented");
        if (MaskRatio < 0 || MaskRatio >= 1 || KeptPerSlice() < 1) throw new ArgumentException($"mask_ratio={MaskRatio} must keep at least one token per slice");
        if (NumHeads <= 0 || EmbedDim[2] % NumHeads != 0) throw new ArgumentException($"num_heads={NumHeads} must divide embed_dim[2]={EmbedDim[2]}");
        if (DecoderNumHeads <= 0 || DecoderEmbedDim % DecoderNumHeads != 0)
            throw new ArgumentException($"decoder_num_heads={DecoderNumHeads} must divide decoder_embed_dim={DecoderEmbedDim}");
        if (EmbedDim[2] % 2 != 0 || DecoderEmbedDim % 2 != 0) throw new ArgumentException("embed_dim[2] and decoder_embed_dim must be even (sinusoid tables)");
        return this;
    }

    public override string ToString() => JsonSerializer.Serialize(this);
    public bool Equals(VideoConvMAEConfig? other) => other is not null && ToJson() == other.ToJson();
    public override int GetHashCode() => ToJson().GetHashCode();

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
    public static VideoConvMAEConfig FromJson(string json) =>
        JsonSerializer.Deserialize<VideoConvMAEConfig>(json, JsonOptions) ?? throw new ArgumentException("config JSON is null");

    // ---------------- presets ----------------
    /// <summary>VideoConvMAE-B, 16×224², 400 classes (the seed's table: ~86 M parameters in the classifier).</summary>
    public static VideoConvMAEConfig Base { get; } = new();

    /// <summary>CPU preset: 8 frames of 64 px (T' = 4, 4×4 grid: 64 tokens, 8 visible at 0.9), the image tiny preset's
    /// widths, decoder 64/1/4, 8 classes (the embedded motion clips).</summary>
    public static VideoConvMAEConfig TinyCpu { get; } = new()
    {
        ImgSize = 64, NumFrames = 8, EmbedDim = [32, 64, 128], Depth = [1, 1, 2], NumHeads = 4,
        DecoderEmbedDim = 64, DecoderDepth = 1, DecoderNumHeads = 4, NumClasses = 8,
    };

    /// <summary>CPU preset: 8 frames of 64 px with the image small preset's widths [64,96,192], depth [2,2,3], decoder 128/2/4.</summary>
    public static VideoConvMAEConfig SmallCpu { get; } = new()
    {
        ImgSize = 64, NumFrames = 8, EmbedDim = [64, 96, 192], Depth = [2, 2, 3], NumHeads = 4,
        DecoderEmbedDim = 128, DecoderDepth = 2, DecoderNumHeads = 4, NumClasses = 8,
    };

    public static IReadOnlyDictionary<string, VideoConvMAEConfig> Presets { get; } = new Dictionary<string, VideoConvMAEConfig>
    {
        ["videoconvmae_base"] = Base, ["videoconvmae_small_cpu"] = SmallCpu, ["videoconvmae_tiny_cpu"] = TinyCpu,
    };

    public static VideoConvMAEConfig Preset(string name) =>
        Presets.TryGetValue(name, out var c) ? c
        : throw new ArgumentException($"unknown video preset '{name}'; known: {string.Join(", ", Presets.Keys)}", nameof(name));
}
