using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Segmentation;

/// <summary>The segmenter's settings under mmseg's names (decode_head / auxiliary_head / test_cfg of the official config).</summary>
public sealed record SegmenterConfig
{
    [JsonPropertyName("backbone")] public SegBackboneConfig Backbone { get; init; } = SegBackboneConfig.Base;
    [JsonPropertyName("num_classes")] public int NumClasses { get; init; } = 150;
    /// <summary>decode_head.channels (768 for ConvMAE-B).</summary>
    [JsonPropertyName("channels")] public int Channels { get; init; } = 768;
    [JsonPropertyName("pool_scales")] public int[] PoolScales { get; init; } = [1, 2, 3, 6];
    [JsonPropertyName("dropout_ratio")] public double DropoutRatio { get; init; } = 0.1;
    /// <summary>auxiliary_head.channels and in_index (FCNHead on level 2).</summary>
    [JsonPropertyName("aux_channels")] public int AuxChannels { get; init; } = 256;
    [JsonPropertyName("aux_in_index")] public int AuxInIndex { get; init; } = 2;
    [JsonPropertyName("aux_loss_weight")] public double AuxLossWeight { get; init; } = 0.4;
    /// <summary>test_cfg: "slide" (crop and stride below) or "whole".</summary>
    [JsonPropertyName("test_mode")] public string TestMode { get; init; } = "slide";
    [JsonPropertyName("crop_size")] public int CropSize { get; init; } = 512;
    [JsonPropertyName("stride")] public int Stride { get; init; } = 341;

    /// <summary>ConvMAE-B + UperNet on ADE20K (upernet_convmae_base_512_slide_160k_ade20k.py).</summary>
    public static SegmenterConfig ConvMAEBaseAde20k { get; } = new();

    /// <summary>The CPU preset for the embedded data: the tiny backbone (the quickstart's encoder shape) at 128 px.</summary>
    public static SegmenterConfig TinyCpu(int numClasses) => new()
    {
        Backbone = SegBackboneConfig.TinyCpu, NumClasses = numClasses, Channels = 64, AuxChannels = 32, CropSize = 128, Stride = 85,
    };

    public static SegmenterConfig Preset(string name, int numClasses) => name switch
    {
        "upernet_convmae_base" => ConvMAEBaseAde20k with { NumClasses = numClasses },
        "upernet_convmae_tiny_cpu" => TinyCpu(numClasses),
        _ => throw new ArgumentException($"--model {name}: expected upernet_convmae_base or upernet_convmae_tiny_cpu"),
    };

    static readonly JsonSerializerOptions Json = new() { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static SegmenterConfig FromJson(string json) => JsonSerializer.Deserialize<SegmenterConfig>(json, Json)!;
}

/// <summary>
/// UperNet on the ConvMAE backbone, as mmseg's EncoderDecoder assembles it: backbone.*, decode_head.* (UPerHead on the
/// four levels) and auxiliary_head.* (FCNHead on level 2), so an official segmentation checkpoint loads with zero
/// missing and zero unexpected keys. Training returns mmseg's named losses ("decode.loss_seg", "aux.loss_seg", the
/// latter weighted 0.4); inference is mmseg's slide or whole mode.
/// </summary>
public sealed class UperNetSegmenter : nn.Module<Tensor, Tensor>
{
    public SegmenterConfig Config { get; }

    [ComponentName(Name = "backbone")] public readonly ConvMAESegBackbone Backbone;
    [ComponentName(Name = "decode_head")] public readonly UPerHead DecodeHead;
    [ComponentName(Name = "auxiliary_head")] public readonly FCNHead AuxiliaryHead;

    public UperNetSegmenter(SegmenterConfig config) : base(nameof(UperNetSegmenter))
    {
        Config = config;
        Backbone = new ConvMAESegBackbone(config.Backbone);
        var levels = config.Backbone.OutChannels;
        DecodeHead = new UPerHead(levels, config.Channels, config.NumClasses, config.PoolScales, config.DropoutRatio);
        AuxiliaryHead = new FCNHead(levels[config.AuxInIndex], config.AuxChannels, config.NumClasses, config.AuxInIndex,
                                    dropoutRatio: config.DropoutRatio, lossWeight: config.AuxLossWeight);
        RegisterComponents();
    }

    /// <summary>mmseg's encode_decode: the decode head's logits resized bilinearly to the input, float32 [B,K,H,W].</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var logits = DecodeHead.call(Backbone.call(images));
        return Segmentation.DecodeHead.Resize(logits, images.shape[2], images.shape[3]).to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>The training losses by mmseg's names for normalised images [B,3,H,W] and labels int64 [B,H,W] (255 ignored).</summary>
    public Dictionary<string, Tensor> Losses(Tensor images, Tensor labels)
    {
        var feats = Backbone.call(images);
        return new Dictionary<string, Tensor>
        {
            ["decode.loss_seg"] = DecodeHead.Loss(DecodeHead.call(feats), labels),
            ["aux.loss_seg"] = AuxiliaryHead.Loss(AuxiliaryHead.call(feats), labels),
        };
    }
}
