using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConvMAE.Segmentation;

/// <summary>
/// The segmentation backbone's constructor arguments under the official names (SEG/backbone/convmae.py ConvMAE,
/// as upernet_convmae_base_512_slide_160k_ade20k.py sets them). <c>img_size</c> is the three stage sizes
/// [input, input/4, input/8]; the token grid is img_size[2] / patch_size[2].
/// </summary>
public sealed record SegBackboneConfig
{
    [JsonPropertyName("img_size")] public int[] ImgSize { get; init; } = [512, 128, 64];
    [JsonPropertyName("patch_size")] public int[] PatchSize { get; init; } = [4, 2, 2];
    [JsonPropertyName("in_chans")] public int InChans { get; init; } = 3;
    [JsonPropertyName("embed_dim")] public int[] EmbedDim { get; init; } = [256, 384, 768];
    [JsonPropertyName("depth")] public int[] Depth { get; init; } = [2, 2, 11];
    [JsonPropertyName("num_heads")] public int NumHeads { get; init; } = 12;
    [JsonPropertyName("mlp_ratio")] public double[] MlpRatio { get; init; } = [4, 4, 4];
    [JsonPropertyName("qkv_bias")] public bool QkvBias { get; init; } = true;
    [JsonPropertyName("drop_rate")] public double DropRate { get; init; }
    [JsonPropertyName("attn_drop_rate")] public double AttnDropRate { get; init; }
    [JsonPropertyName("drop_path_rate")] public double DropPathRate { get; init; } = 0.2;
    /// <summary>Layer-scale initial value (gamma_1, gamma_2); null: no layer scale.</summary>
    [JsonPropertyName("init_values")] public double? InitValues { get; init; } = 1.0;
    [JsonPropertyName("use_abs_pos_emb")] public bool UseAbsPosEmb { get; init; } = true;
    [JsonPropertyName("use_rel_pos_bias")] public bool UseRelPosBias { get; init; } = true;
    /// <summary>eps of the transformer blocks' norm_layer (official default nn.LayerNorm: 1e-5). The conv blocks and
    /// patch embeddings always use 1e-5 (they hard-code nn.LayerNorm).</summary>
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-5;
    /// <summary>The kit's extension (off in the official path): inputs other than img_size[0] resize pos_embed
    /// bicubically to their grid and index the relative-position tables at the offsets that grid has (grids up to the
    /// configured one).</summary>
    [JsonPropertyName("any_input_size")] public bool AnyInputSize { get; init; }
    /// <summary>The kit's extension (on by default; false: the official NCHW modules): stages 1-2 on channels-last
    /// maps (<see cref="Modeling.ConvStages"/>), the same function with fewer layout copies and a faster depthwise backward.</summary>
    [JsonPropertyName("channels_last_stages")] public bool ChannelsLastStages { get; init; } = true;

    [JsonIgnore] public int InputSize => ImgSize[0];
    [JsonIgnore] public int Grid => ImgSize[2] / PatchSize[2];
    /// <summary>Channels of the four outputs: stage 1, stage 2, stage 3, and the 4th level (stage 3's width).</summary>
    [JsonIgnore] public int[] OutChannels => [EmbedDim[0], EmbedDim[1], EmbedDim[2], EmbedDim[2]];

    /// <summary>ConvMAE-B as the official UperNet config (512 px).</summary>
    public static SegBackboneConfig Base { get; } = new();

    /// <summary>A CPU preset for the embedded data (128 px, 8×8 tokens): the encoder shape of convmae_tiny_cpu, so the
    /// quickstart's pretraining checkpoint initialises it.</summary>
    public static SegBackboneConfig TinyCpu { get; } = new()
    {
        ImgSize = [128, 32, 16], EmbedDim = [32, 64, 128], Depth = [1, 1, 2], NumHeads = 4, DropPathRate = 0.1, AnyInputSize = true,
    };

    /// <summary>The configuration for inputs of <paramref name="size"/> pixels (divisible by 16).</summary>
    public SegBackboneConfig WithInputSize(int size) =>
        size % 16 != 0 ? throw new ArgumentException($"input size {size}: must be divisible by 16")
                       : this with { ImgSize = [size, size / 4, size / 8] };

    public SegBackboneConfig Validate()
    {
        if (ImgSize.Length != 3 || PatchSize.Length != 3 || EmbedDim.Length != 3 || Depth.Length != 3 || MlpRatio.Length != 3)
            throw new ArgumentException("img_size, patch_size, embed_dim, depth and mlp_ratio need three entries (one per stage)");
        if (ImgSize[0] / PatchSize[0] != ImgSize[1] || ImgSize[1] / PatchSize[1] != ImgSize[2])
            throw new ArgumentException($"img_size {string.Join(",", ImgSize)} does not follow patch_size {string.Join(",", PatchSize)}");
        if (EmbedDim[2] % NumHeads != 0) throw new ArgumentException($"num_heads {NumHeads} must divide embed_dim[2] {EmbedDim[2]}");
        return this;
    }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static SegBackboneConfig FromJson(string json) => JsonSerializer.Deserialize<SegBackboneConfig>(json, Json)!.Validate();
}
