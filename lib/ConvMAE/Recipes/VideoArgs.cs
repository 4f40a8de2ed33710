using System.ComponentModel;
using System.Text.Json.Serialization;

namespace ConvMAE.Recipes;

/// <summary>The flags VideoMAE's run_mae_pretraining.py and run_class_finetuning.py share, under their names.</summary>
[FlagHelp("model", "video preset: videoconvmae_base, videoconvmae_small_cpu, videoconvmae_tiny_cpu (with --image_baseline: an image preset)")]
[FlagHelp("data_path", "the dataset folder (Kinetics-400: train.csv/val.csv or VideoMAE lists; SSV2: the JSON files and 20bn-something-something-v2/), or one VideoMAE list file")]
[FlagHelp("input_size", "frame size in pixels (divisible by 16)")]
[FlagHelp("batch_size", "clips per step")]
public abstract record VideoArgs : RunArgs
{
    protected VideoArgs()
    {
        Model = "videoconvmae_base"; InputSize = 224; DataPath = "data/video-demo/kinetics";
    }

    [JsonPropertyName("data_set"), Description("Kinetics-400 or SSV2 (the layout of --data_path)")]
    public string DataSet { get; init; } = "Kinetics-400";
    [JsonPropertyName("num_frames"), Description("frames per clip")]
    public int NumFrames { get; init; } = 16;
    [JsonPropertyName("sampling_rate"), Description("frame stride within a clip (Kinetics 4; SSv2 pretraining 2)")]
    public int SamplingRate { get; init; } = 4;
    [JsonPropertyName("tubelet_size"), Description("frames per cube of the embedding")]
    public int TubeletSize { get; init; } = 2;
    [JsonPropertyName("dw_kernel_t"), Description("temporal size of the stage-1/2 depthwise kernels: 3 (3×5×5) or 1 (per-frame 5×5)")]
    public int DwKernelT { get; init; } = 3;
    [JsonPropertyName("channels_last_stages"), Description("run stages 1-2 on channels-last maps (same function, faster; --no_channels_last_stages: the NCDHW Conv3d form)")]
    public bool ChannelsLastStages { get; init; } = true;
    /// <summary>Kinetics-400 or SSV2, checked, with VideoMAE's spellings accepted.</summary>
    internal string DataSetName => DataSet.ToUpperInvariant() switch
    {
        "KINETICS-400" or "KINETICS400" or "K400" => "Kinetics-400",
        "SSV2" or "SOMETHING-SOMETHING-V2" => "SSV2",
        _ => throw new ArgumentException($"--data_set {DataSet}: expected Kinetics-400 or SSV2"),
    };
}

/// <summary>run_mae_pretraining.py's flags and defaults (VideoMAE: AdamW 0.9/0.95, blr 1.5e-4, weight decay 0.05, 40
/// warmup epochs, 800 epochs, tube masking at 0.9).</summary>
public sealed record VideoPretrainArgs : VideoArgs
{
    public VideoPretrainArgs()
    {
        BatchSize = 32; Epochs = 800; Blr = 1.5e-4; MinLr = 1e-5; WarmupEpochs = 40; WeightDecay = 0.05; SaveEvery = 20;
    }

    [JsonPropertyName("mask_type"), Description("tube (VideoMAE's; the only one implemented)")]
    public string MaskType { get; init; } = "tube";
    [JsonPropertyName("mask_ratio"), Description("fraction of each slice's tokens removed (0.9; 0.75 selectable)")]
    public double MaskRatio { get; init; } = 0.9;
    [JsonPropertyName("msd"), Description("multi-scale decoder: the decoder also receives the stage-1/2 features")]
    public bool Msd { get; init; }
    [JsonPropertyName("normlize_target"), Description("VideoMAE's (sic) flag: normalise each tubelet's target per channel")]
    public bool NormlizeTarget { get; init; } = true;
    [JsonPropertyName("masked_conv"), Description("ablation: mask the depthwise convolutions (paper: on)")]
    public bool MaskedConv { get; init; } = true;
    [JsonPropertyName("sparse_stages"), Description("stages 1-2 on the visible tubes only (exact, faster; --no_sparse_stages: every position; off without masked_conv)")]
    public bool SparseStages { get; init; } = true;
}

/// <summary>run_class_finetuning.py's flags and defaults (VideoMAE ViT-B on Kinetics-400; SSv2 uses --blr 5e-4 and no flip).</summary>
public sealed record VideoFinetuneArgs : VideoArgs
{
    public VideoFinetuneArgs()
    {
        BatchSize = 8; Epochs = 75; Blr = 1e-3; MinLr = 1e-6; WarmupEpochs = 5; WeightDecay = 0.05; SaveEvery = 1;
    }

    [JsonPropertyName("finetune"), Description("VideoConvMAE pretraining checkpoint, or an IMAGE ConvMAE checkpoint (inflated I3D-style)")]
    public string Finetune { get; init; } = "";
    [JsonPropertyName("nb_classes"), Description("classes (0: as many as the data has)")]
    public int NbClasses { get; init; }
    [JsonPropertyName("drop_path")] public double DropPath { get; init; } = 0.1;
    [JsonPropertyName("layer_decay")] public double LayerDecay { get; init; } = 0.75;
    [JsonPropertyName("clip_grad"), Description("clip the gradient norm (default: none)")]
    public double? ClipGrad { get; init; }
    [JsonPropertyName("aa"), Description("RandAugment policy, timm syntax, the same draws for every frame (empty: none)")]
    public string Aa { get; init; } = "rand-m7-n4-mstd0.5-inc1";
    [JsonPropertyName("smoothing")] public double Smoothing { get; init; } = 0.1;
    [JsonPropertyName("reprob"), Description("random erasing probability (per frame, as VideoMAE)")]
    public double Reprob { get; init; } = 0.25;
    [JsonPropertyName("mixup")] public double Mixup { get; init; } = 0.8;
    [JsonPropertyName("cutmix")] public double Cutmix { get; init; } = 1.0;
    [JsonPropertyName("flip"), Description("random horizontal flip: auto (on for Kinetics-400, off for SSV2, whose labels depend on direction), on or off")]
    public string Flip { get; init; } = "auto";
    [JsonPropertyName("min_crop_scale"), Description("smallest area fraction of the random-resized crop (VideoMAE: 0.08; the embedded clips' small objects want 0.5)")]
    public double MinCropScale { get; init; } = 0.08;
    [JsonPropertyName("test_num_segment"), Description("test: temporal clips per video (Kinetics 5, SSv2 2)")]
    public int TestNumSegment { get; init; } = 5;
    [JsonPropertyName("test_num_crop"), Description("test: spatial crops per clip")]
    public int TestNumCrop { get; init; } = 3;
    [JsonPropertyName("image_baseline"), Description("train the frame-averaged IMAGE classifier instead (the baseline; --model names an image preset)")]
    public bool ImageBaseline { get; init; }
    [JsonPropertyName("eval"), Description("multi-view test of the --resume checkpoint and stop")]
    public bool Eval { get; init; }

    internal bool FlipFrames => Flip.ToLowerInvariant() switch
    {
        "auto" => ConvMAE.Data.Video.FinetuneClipTransform.FlipsFor(DataSetName),
        "on" or "true" => true,
        "off" or "false" => false,
        _ => throw new ArgumentException($"--flip {Flip}: expected auto, on or off"),
    };
}
