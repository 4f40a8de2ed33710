namespace ConvMAE.Training;

/// <summary>How often something happens: every N iterations, every N epochs, or never (the end of training always counts).</summary>
public sealed record Period(int Every, PeriodUnit Unit)
{
    public static Period Iterations(int n) => new(n, PeriodUnit.Iterations);
    public static Period Epochs(int n) => new(n, PeriodUnit.Epochs);
    public static readonly Period Never = new(0, PeriodUnit.Iterations);

    /// <summary>Due after <paramref name="completedIterations"/> iterations (counted over the whole run).</summary>
    public bool DueAfterIteration(long completedIterations) =>
        Unit == PeriodUnit.Iterations && Every > 0 && completedIterations % Every == 0;

    /// <summary>Due at the end of epoch <paramref name="epoch"/> (0-based).</summary>
    public bool DueAfterEpoch(int epoch) => Unit == PeriodUnit.Epochs && Every > 0 && (epoch + 1) % Every == 0;

    public override string ToString() => Every <= 0 ? "never" : $"every {Every} {(Unit == PeriodUnit.Epochs ? "epoch" : "iteration")}{(Every == 1 ? "" : "s")}";
}

public enum PeriodUnit { Iterations, Epochs }

/// <summary>
/// The loop's settings, with the official flag names in comments. A run is <see cref="MaxIter"/> iterations long when
/// set (detectron2/mmcv recipes: --max_iter), else <see cref="Epochs"/> passes over the data (MAE recipes).
/// </summary>
public sealed record TrainOptions
{
    public int Epochs { get; init; }                          // --epochs
    public long? MaxIter { get; init; }                       // --max_iter: the run's length in iterations (overrides epochs)
    public required ILrSchedule Schedule { get; init; }       // the base lr per iteration; groups apply their lr_scale
    public int AccumIter { get; init; } = 1;                  // --accum_iter
    public double? ClipGrad { get; init; }                    // --clip_grad (finetune)
    public int Seed { get; init; }                            // --seed
    public required string OutputDir { get; init; }           // --output_dir (checkpoint.pth, metrics.jsonl)
    public string? LogDir { get; init; }                      // --log_dir (TensorBoard events); null: none
    /// <summary>--save_every N (epochs) or --checkpoint_period N (iterations); a checkpoint is also written at the end.</summary>
    public Period CheckpointPeriod { get; init; } = Period.Epochs(1);
    /// <summary>When the task's evaluation runs (--eval_period); it also runs at the end when given.</summary>
    public Period EvalPeriod { get; init; } = Period.Epochs(1);
    /// <summary>Stop after this many optimisation steps in total (smoke runs and tests); null: run to the end.</summary>
    public long? MaxSteps { get; init; }

    /// <summary>The run's length for a loader of <paramref name="iterationsPerEpoch"/> batches.</summary>
    public long TotalIterations(int iterationsPerEpoch) => MaxIter ?? (long)Epochs * iterationsPerEpoch;
}
