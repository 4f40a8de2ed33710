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
