using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConvMAE.Detection;

/// <summary>
/// ConvViTDet's constructor arguments under the official names. The official class ignores the config's
/// img_size/embed_dim/depth and hard-codes img_size [1024, 256, 128], embed_dim [256, 384, 768], depth [2, 2, 11],
/// patch_size [4, 2, 2], 12 heads; <see cref="Base"/> is exactly that. Here they are honoured, so smaller backbones
/// (the fixtures, the CPU preset) are the same code.
/// </summary>
public sealed record DetBackboneConfig
{
    [JsonPropertyName("img_size")] public int[] ImgSize { get; init; } = [1024, 256, 128];
    [JsonPropertyName("patch_size")] public int[] PatchSize { get; init; } = [4, 2, 2];
    [JsonPropertyName("in_chans")] public int InChans { get; init; } = 3;
    [JsonPropertyName("embed_dim")] public int[] EmbedDim { get; init; } = [256, 384, 768];
    [JsonPropertyName("depth")] public int[] Depth { get; init; } = [2, 2, 11];
    [JsonPropertyName("num_heads")] public int NumHeads { get; init; } = 12;
    [JsonPropertyName("mlp_ratio")] public double[] MlpRatio { get; init; } = [4, 4, 4];
    [JsonPropertyName("qkv_bias")] public bool QkvBias { get; init; } = true;
    [JsonPropertyName("drop_rate")] public double DropRate { get; init; }
    [JsonPropertyName("attn_drop_rate")] public double AttnDropRate { get; init; }
    [JsonPropertyName("drop_path_rate")] public double DropPathRate { get; init; } = 0.1;
    [JsonPropertyName("window_size")] public int WindowSize { get; init; } = 16;
    /// <summary>Transformer blocks with global attention (the whole-grid table); the rest attend within windows.
    /// Official: 0, 3, 6, 10 of 11, fixed by the forward pass (QUIRK: its <c>global_attn_index = [0, 4, 8, 10]</c> is
    /// set but never used). Other depths are the kit's extension.</summary>
    [JsonPropertyName("global_blocks")] public int[] GlobalBlocks { get; init; } = [0, 3, 6, 10];
    /// <summary>QUIRK kept: with sincos_pos_embed the official code computes a sin-cos table and never assigns it;
    /// its only effect is that pos_embed (as loaded and resized) is frozen.</summary>
    [JsonPropertyName("sincos_pos_embed")] public bool SincosPosEmbed { get; init; } = true;
    /// <summary>eps of the transformer blocks' LayerNorm (official norm_layer: 1e-6); conv blocks and patch
    /// embeddings use nn.LayerNorm's 1e-5.</summary>
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-6;
    /// <summary>The kit's extension (on by default; false: the official NCHW modules): stages 1-2 on channels-last
    /// maps (<see cref="Modeling.ConvStages"/>), the same function with fewer layout copies and a faster depthwise backward.</summary>
    [JsonPropertyName("channels_last_stages")] public bool ChannelsLastStages { get; init; } = true;

    [JsonIgnore] public int InputSize => ImgSize[0];
    [JsonIgnore] public int Grid => ImgSize[2] / PatchSize[2];
    /// <summary>Output channels of s0..s3 (s3 is a max-pool of s2).</summary>
    [JsonIgnore] public int[] OutChannels => [EmbedDim[0], EmbedDim[1], EmbedDim[2], EmbedDim[2]];
    /// <summary>Output strides of s0..s3 relative to the input.</summary>
    [JsonIgnore] public int[] OutStrides => [PatchSize[0], PatchSize[0] * PatchSize[1], PatchSize[0] * PatchSize[1] * PatchSize[2], 2 * PatchSize[0] * PatchSize[1] * PatchSize[2]];

    /// <summary>ConvViTDet-Base as convmae_base_mask_rcnn_FPN_*.py (1024 px, window 16).</summary>
    public static DetBackboneConfig Base { get; } = new();

    public DetBackboneConfig Validate()
    {
        if (ImgSize.Length != 3 || PatchSize.Length != 3 || EmbedDim.Length != 3 || Depth.Length != 3 || MlpRatio.Length != 3)
            throw new ArgumentException("img_size, patch_size, embed_dim, depth and mlp_ratio need three entries (one per stage)");
        if (ImgSize[0] / PatchSize[0] != ImgSize[1] || ImgSize[1] / PatchSize[1] != ImgSize[2])
            throw new ArgumentException($"img_size {string.Join(",", ImgSize)} does not follow patch_size {string.Join(",", PatchSize)}");
        if (EmbedDim[2] % NumHeads != 0) throw new ArgumentException($"num_heads {NumHeads} must divide embed_dim[2] {EmbedDim[2]}");
        if (WindowSize <= 0 || Grid % WindowSize != 0)
            throw new ArgumentException($"window_size {WindowSize} must divide the {Grid}×{Grid} token grid");
        if (Grid % 2 != 0) throw new ArgumentException($"the {Grid}×{Grid} token grid must be even (s3 is a 2×2 max-pool)");
        if (GlobalBlocks.Any(i => i < 0 || i >= Depth[2]) || GlobalBlocks.Distinct().Count() != GlobalBlocks.Length)
            throw new ArgumentException($"global_blocks {string.Join(",", GlobalBlocks)} must be distinct indices below depth[2] = {Depth[2]}");
        return this;
    }

    static readonly JsonSerializerOptions Json = new() { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static DetBackboneConfig FromJson(string json) => JsonSerializer.Deserialize<DetBackboneConfig>(json, Json)!.Validate();
}
