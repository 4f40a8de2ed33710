using System.ComponentModel;
using System.Text.Json.Serialization;
using ConvMAE.Modeling;

namespace ConvMAE.Cli;

/// <summary>Flags of <c>convmae summary</c>: the analytic parameter and FLOP count of a preset (<see cref="ModelSummary"/>).</summary>
public sealed record SummaryArgs
{
    [JsonPropertyName("model"), Description("model preset: convmae_base, convmae_small_cpu, convmae_tiny_cpu")]
    public string Model { get; init; } = "convmae_base";
    [JsonPropertyName("input_size"), Description("image size in pixels, a multiple of 16 (default: the preset's)")]
    public int? InputSize { get; init; }
    [JsonPropertyName("kind"), Description("classifier or pretrain")]
    public string Kind { get; init; } = "classifier";
    [JsonPropertyName("nb_classes"), Description("classifier head width (default: the preset's)")]
    public int? NbClasses { get; init; }
    [JsonPropertyName("mask_ratio"), Description("pretraining mask ratio (default: the preset's, 0.75)")]
    public double? MaskRatio { get; init; }

    /// <summary>The summary these flags ask for; ArgumentException naming the flag for a bad value.</summary>
    public ModelSummary Summarize()
    {
        var kind = Kind.ToLowerInvariant() switch
        {
            "classifier" or "finetune" => ModelKind.Classifier,
            "pretrain" or "pretraining" => ModelKind.Pretrain,
            _ => throw new ArgumentException($"--kind '{Kind}': expected classifier or pretrain"),
        };
        var config = ConvViTConfig.Preset(Model);
        if (NbClasses is { } n) config = config with { NumClasses = n };
        if (MaskRatio is { } r) config = config with { MaskRatio = r };
        return ModelSummary.Of(config, kind, InputSize);
    }
}
