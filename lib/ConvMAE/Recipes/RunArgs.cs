using System.ComponentModel;
using System.Text.Json.Serialization;

namespace ConvMAE.Recipes;

/// <summary>
/// Settings shared by every run, under the official command-line names (JsonPropertyName = flag name without "--").
/// The CLI builds its flags from these properties, notebooks set them directly, and checkpoints record them as "args".
/// </summary>
public abstract record RunArgs
{
    [JsonPropertyName("model"), Description("model preset: convmae_base, convmae_small_cpu, convmae_tiny_cpu")]
    public string Model { get; init; } = "convmae_base";
    [JsonPropertyName("input_size"), Description("image size in pixels (divisible by 16)")]
    public int InputSize { get; init; } = 224;
    [JsonPropertyName("batch_size"), Description("images per step")]
    public int BatchSize { get; init; } = 64;
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 400;
    [JsonPropertyName("accum_iter"), Description("steps to accumulate gradients over before an update")]
    public int AccumIter { get; init; } = 1;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.05;
    [JsonPropertyName("lr"), Description("absolute learning rate (default: blr × effective batch / 256)")]
    public double? Lr { get; init; }
    [JsonPropertyName("blr"), Description("base learning rate: lr = blr × effective batch / 256")]
    public double Blr { get; init; } = 1e-3;
    [JsonPropertyName("min_lr")] public double MinLr { get; init; }
    [JsonPropertyName("warmup_epochs")] public double WarmupEpochs { get; init; } = 40;
    [JsonPropertyName("data_path"), Description("ImageNet-layout folder holding train/ and val/")]
    public string DataPath { get; init; } = "data/demo";
    [JsonPropertyName("output_dir"), Description("checkpoint.pth and metrics.jsonl go here")]
    public string OutputDir { get; init; } = "./output_dir";
    [JsonPropertyName("log_dir"), Description("TensorBoard event files go here")]
    public string LogDir { get; init; } = "./output_dir";
    [JsonPropertyName("device"), Description("auto, cpu, cuda or cuda:N")]
    public string Device { get; init; } = "auto";
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("resume"), Description("a checkpoint.pth of this kit to continue from")]
    public string Resume { get; init; } = "";
    [JsonPropertyName("num_workers"), Description("image decoding threads")]
    public int NumWorkers { get; init; } = 2;
    [JsonPropertyName("pin_mem"), Description("accepted for compatibility; no effect on CPU")]
    public bool PinMem { get; init; } = true;
    [JsonPropertyName("threads"), Description("libtorch threads (0: libtorch's default)")]
    public int Threads { get; init; }
    [JsonPropertyName("save_every"), Description("write checkpoint.pth every N epochs (and at the end)")]
    public int SaveEvery { get; init; } = 1;
    [JsonPropertyName("max_steps"), Description("stop after this many steps in total, the schedule unchanged (0: no limit)")]
    public long MaxSteps { get; init; }
    [JsonPropertyName("max_iter"), Description("the run's length in iterations (0: epochs × iterations per epoch); schedules span it")]
    public long MaxIter { get; init; }
    [JsonPropertyName("checkpoint_period"), Description("write checkpoint.pth every N iterations, mid-epoch too (0: every --save_every epochs)")]
    public int CheckpointPeriod { get; init; }
    [JsonPropertyName("strict"), Description("stop on the first unreadable image instead of skipping it")]
    public bool Strict { get; init; }
    [JsonPropertyName("dtype"), Description("fp32, or bf16: bf16 compute with fp32 master weights (BatchNorm kept in fp32)")]
    public string Dtype { get; init; } = "fp32";

    /// <summary>The absolute learning rate the run uses.</summary>
    public double EffectiveLr => Lr ?? Training.HalfCycleCosine.ScaledLr(Blr, BatchSize, AccumIter);
}

/// <summary>main_pretrain.py's flags and defaults, plus the kit's ablation switches.</summary>
public sealed record PretrainArgs : RunArgs
{
    public PretrainArgs()
    {
        BatchSize = 64; Epochs = 400; Blr = 1e-3; MinLr = 0; WarmupEpochs = 40; WeightDecay = 0.05; SaveEvery = 20;
    }

    [JsonPropertyName("mask_ratio"), Description("fraction of 16×16 blocks removed")]
    public double MaskRatio { get; init; } = 0.75;
    [JsonPropertyName("norm_pix_loss"), Description("normalise each target patch by its mean and variance")]
    public bool NormPixLoss { get; init; }
    [JsonPropertyName("masked_conv"), Description("ablation: mask the 5×5 depthwise convolutions (paper: on)")]
    public bool MaskedConv { get; init; } = true;
    [JsonPropertyName("multi_scale_fusion"), Description("ablation: add stage-1/2 features to the visible tokens (paper: on)")]
    public bool MultiScaleFusion { get; init; } = true;
    [JsonPropertyName("sparse_stages"), Description("compute stages 1-2 on the visible blocks only (exact; --no_sparse_stages: the official dense form)")]
    public bool SparseStages { get; init; } = true;
}

/// <summary>main_finetune.py's and main_linprobe.py's shared flags.</summary>
public abstract record ClassifierArgs : RunArgs
{
    [JsonPropertyName("finetune"), Description("pretrained checkpoint to start from (official or the kit's)")]
    public string Finetune { get; init; } = "";
    [JsonPropertyName("global_pool"), Description("average the tokens (fc_norm) instead of taking token 0 (norm)")]
    public bool GlobalPool { get; init; }
    [JsonPropertyName("nb_classes"), Description("classes (0: as many as the data has)")]
    public int NbClasses { get; init; }
    [JsonPropertyName("eval"), Description("evaluate the --resume checkpoint and stop")]
    public bool Eval { get; init; }
    [JsonPropertyName("dist_eval"), Description("accepted for compatibility; single process")]
    public bool DistEval { get; init; }
    [JsonPropertyName("channels_last_stages"), Description("run stages 1-2 on channels-last maps (same function, faster; --no_channels_last_stages: the official NCHW form)")]
    public bool ChannelsLastStages { get; init; } = true;
}

/// <summary>main_finetune.py's flags and defaults.</summary>
public sealed record FinetuneArgs : ClassifierArgs
{
    public FinetuneArgs()
    {
        BatchSize = 64; Epochs = 50; Blr = 1e-3; MinLr = 1e-6; WarmupEpochs = 5; WeightDecay = 0.05; GlobalPool = true; SaveEvery = 1;
    }

    [JsonPropertyName("drop_path")] public double DropPath { get; init; } = 0.1;
    [JsonPropertyName("clip_grad"), Description("clip the gradient norm (default: none)")]
    public double? ClipGrad { get; init; }
    [JsonPropertyName("layer_decay")] public double LayerDecay { get; init; } = 0.75;
    [JsonPropertyName("color_jitter"), Description("accepted; ignored when --aa is set, as in timm")]
    public double? ColorJitter { get; init; }
    [JsonPropertyName("aa"), Description("RandAugment policy, timm syntax (empty: none)")]
    public string Aa { get; init; } = "rand-m9-mstd0.5-inc1";
    [JsonPropertyName("smoothing")] public double Smoothing { get; init; } = 0.1;
    [JsonPropertyName("reprob"), Description("random erasing probability")]
    public double Reprob { get; init; } = 0.25;
    [JsonPropertyName("remode")] public string Remode { get; init; } = "pixel";
    [JsonPropertyName("recount")] public int Recount { get; init; } = 1;
    [JsonPropertyName("mixup")] public double Mixup { get; init; }
    [JsonPropertyName("cutmix")] public double Cutmix { get; init; }
    [JsonPropertyName("cutmix_minmax")] public string? CutmixMinmax { get; init; }
    [JsonPropertyName("mixup_prob")] public double MixupProb { get; init; } = 1.0;
    [JsonPropertyName("mixup_switch_prob")] public double MixupSwitchProb { get; init; } = 0.5;
    [JsonPropertyName("mixup_mode")] public string MixupMode { get; init; } = "batch";
}

/// <summary>main_linprobe.py's flags and defaults (LARS, BatchNorm head, token-0 features unless --global_pool).</summary>
public sealed record LinprobeArgs : ClassifierArgs
{
    public LinprobeArgs()
    {
        BatchSize = 512; Epochs = 90; Blr = 0.1; MinLr = 0; WarmupEpochs = 10; WeightDecay = 0; GlobalPool = false; SaveEvery = 1;
    }

    [JsonPropertyName("blr_sweep"), Description("kit: probe at several base learning rates in one pass, one head each " +
        "(comma list, e.g. 5,10,20,40; replaces --blr); acc1 is the best head's, each head's is logged as acc1_blr_<value>")]
    public string BlrSweep { get; init; } = "";

    /// <summary>The base learning rates of the probe heads: the --blr_sweep values, or --blr alone.</summary>
    public IReadOnlyList<double> ProbeBlrs
    {
        get
        {
            if (string.IsNullOrWhiteSpace(BlrSweep)) return [Blr];
            var values = BlrSweep.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v =>
                double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) && x > 0
                    ? x : throw new ArgumentException($"--blr_sweep {BlrSweep}: '{v}' is not a positive number")).ToList();
            if (values.Distinct().Count() != values.Count) throw new ArgumentException($"--blr_sweep {BlrSweep}: a value is repeated");
            return values;
        }
    }
}
