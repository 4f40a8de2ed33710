using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConvMAE.Detection;

/// <summary>
/// The detector's settings as DET/configs/convmae/convmae_base_mask_rcnn_FPN_100ep.py sets them (detectron2 names in
/// snake case). <see cref="Base"/> is the official model; the CPU preset shrinks the backbone, the FPN width and the
/// sample counts, nothing else.
/// </summary>
public sealed record MaskRcnnConfig
{
    [JsonPropertyName("backbone")] public DetBackboneConfig Backbone { get; init; } = DetBackboneConfig.Base;
    [JsonPropertyName("num_classes")] public int NumClasses { get; init; } = 80;
    [JsonPropertyName("fpn_out_channels")] public int FpnOutChannels { get; init; } = 256;
    [JsonPropertyName("anchor_sizes")] public int[] AnchorSizes { get; init; } = [32, 64, 128, 256, 512];
    [JsonPropertyName("anchor_aspect_ratios")] public double[] AnchorAspectRatios { get; init; } = [0.5, 1.0, 2.0];
    [JsonPropertyName("rpn_batch_size_per_image")] public int RpnBatchSizePerImage { get; init; } = 256;
    [JsonPropertyName("rpn_positive_fraction")] public double RpnPositiveFraction { get; init; } = 0.5;
    [JsonPropertyName("rpn_pre_nms_topk")] public int[] RpnPreNmsTopk { get; init; } = [2000, 1000];     // train, test
    [JsonPropertyName("rpn_post_nms_topk")] public int[] RpnPostNmsTopk { get; init; } = [1000, 1000];
    [JsonPropertyName("rpn_nms_thresh")] public double RpnNmsThresh { get; init; } = 0.7;
    [JsonPropertyName("roi_batch_size_per_image")] public int RoiBatchSizePerImage { get; init; } = 512;
    [JsonPropertyName("roi_positive_fraction")] public double RoiPositiveFraction { get; init; } = 0.25;
    [JsonPropertyName("roi_iou_threshold")] public double RoiIouThreshold { get; init; } = 0.5;
    [JsonPropertyName("box_head_conv_dims")] public int[] BoxHeadConvDims { get; init; } = [256, 256, 256, 256];
    [JsonPropertyName("box_head_fc_dim")] public int BoxHeadFcDim { get; init; } = 1024;
    [JsonPropertyName("mask_head_conv_dims")] public int[] MaskHeadConvDims { get; init; } = [256, 256, 256, 256, 256];
    [JsonPropertyName("test_score_thresh")] public double TestScoreThresh { get; init; } = 0.05;
    [JsonPropertyName("test_nms_thresh")] public double TestNmsThresh { get; init; } = 0.5;
    [JsonPropertyName("test_detections_per_image")] public int TestDetectionsPerImage { get; init; } = 100;
    [JsonPropertyName("pixel_mean")] public double[] PixelMean { get; init; } = [123.675, 116.28, 103.53];
    [JsonPropertyName("pixel_std")] public double[] PixelStd { get; init; } = [58.395, 57.12, 57.375];

    /// <summary>Side of the square the detector sees (LSJ crops and the test transform pad to it).</summary>
    [JsonIgnore] public int ImageSize => Backbone.InputSize;

    public static MaskRcnnConfig Base { get; } = new();

    /// <summary>
    /// The CPU preset for the embedded data (128 px, objects of 8-64 px): the quickstart encoder's shape
    /// (convmae_tiny_cpu, so its pretraining checkpoints load into the backbone) with window 4 and the last block
    /// global; FPN 64 wide; anchors 8..128 (the official 32..512 scaled to the input); 2 convs + fc 256 in the box
    /// head, 2 convs in the mask head; fewer proposals and sampled RoIs.
    /// </summary>
    public static MaskRcnnConfig Cpu(int numClasses) => new()
    {
        Backbone = new DetBackboneConfig
        {
            ImgSize = [128, 32, 16], EmbedDim = [32, 64, 128], Depth = [1, 1, 2], NumHeads = 4, WindowSize = 4, GlobalBlocks = [1],
        },
        NumClasses = numClasses, FpnOutChannels = 64, AnchorSizes = [8, 16, 32, 64, 128], RpnPreNmsTopk = [600, 300],
        RpnPostNmsTopk = [300, 300], RoiBatchSizePerImage = 128, BoxHeadConvDims = [64, 64], BoxHeadFcDim = 256,
        MaskHeadConvDims = [64, 64, 64],
    };

    public static MaskRcnnConfig Preset(string name, int numClasses) => name switch
    {
        "mask_rcnn_convmae_base" => Base with { NumClasses = numClasses },
        "mask_rcnn_convmae_cpu" => Cpu(numClasses),
        _ => throw new ArgumentException($"--model {name}: expected mask_rcnn_convmae_base or mask_rcnn_convmae_cpu"),
    };

    /// <summary>The same detector for square inputs of <paramref name="size"/> pixels (the backbone's stage sizes follow).</summary>
    public MaskRcnnConfig WithInputSize(int size)
    {
        var b = Backbone;
        int s1 = size / b.PatchSize[0], s2 = s1 / b.PatchSize[1];
        if (size % (b.PatchSize[0] * b.PatchSize[1] * b.PatchSize[2] * 2) != 0)
            throw new ArgumentException($"--input_size {size}: must be divisible by {b.PatchSize[0] * b.PatchSize[1] * b.PatchSize[2] * 2}");
        return this with { Backbone = b with { ImgSize = [size, s1, s2] } };
    }

    public MaskRcnnConfig Validate()
    {
        Backbone.Validate();
        if (NumClasses <= 0) throw new ArgumentException("num_classes must be positive");
        if (AnchorSizes.Length != 5) throw new ArgumentException("anchor_sizes needs one size per level p2..p6 (5)");
        if (MaskHeadConvDims.Length < 2) throw new ArgumentException("mask_head_conv_dims: the convs then the deconv width (at least 2 entries)");
        return this;
    }

    static readonly JsonSerializerOptions Json = new() { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static MaskRcnnConfig FromJson(string json) => JsonSerializer.Deserialize<MaskRcnnConfig>(json, Json)!.Validate();
}
