namespace ConvMAE.Training;

/// <summary>
/// The loop's settings, with the official flag names in comments. Lr is the absolute base rate (the CLI derives it from
/// --blr × effective batch / 256 when --lr is not given).
/// </summary>
public sealed record TrainOptions
{
    public required int Epochs { get; init; }                 // --epochs
    public required double Lr { get; init; }                  // --lr (absolute)
    public double MinLr { get; init; }                        // --min_lr
    public double WarmupEpochs { get; init; }                 // --warmup_epochs
    public int AccumIter { get; init; } = 1;                  // --accum_iter
    public double? ClipGrad { get; init; }                    // --clip_grad (finetune)
    public int Seed { get; init; }                            // --seed
    public required string OutputDir { get; init; }           // --output_dir (checkpoint.pth, metrics.jsonl)
    public string? LogDir { get; init; }                      // --log_dir (TensorBoard events); null: none
    public int SaveEvery { get; init; } = 1;                  // checkpoint every N epochs and at the end
    /// <summary>Stop after this many optimisation steps in total (for smoke runs and tests); null: run all epochs.</summary>
    public long? MaxSteps { get; init; }

    public LrSchedule Schedule => new(Lr, MinLr, WarmupEpochs, Epochs);
}
