using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>Where a run stands, as hooks see it.</summary>
public sealed class TrainerState
{
    /// <summary>Iterations completed since the start of training (a resumed run counts the earlier ones).</summary>
    public long Iteration { get; internal set; }
    public long TotalIterations { get; internal init; }
    public int IterationsPerEpoch { get; internal init; }
    /// <summary>The epoch under way (0-based).</summary>
    public int Epoch { get; internal set; }
    public int Epochs => (int)((TotalIterations + IterationsPerEpoch - 1) / IterationsPerEpoch);
    /// <summary>Losses of the last step, by name ("loss" is their sum).</summary>
    public IReadOnlyDictionary<string, double> LastLosses { get; internal set; } = new Dictionary<string, double>();
    /// <summary>The latest evaluation's metrics (empty before the first).</summary>
    public IReadOnlyDictionary<string, double> LastEval { get; internal set; } = new Dictionary<string, double>();
    /// <summary>Metrics of an evaluation run at the current epoch boundary or end (empty otherwise).</summary>
    public IReadOnlyDictionary<string, double> BoundaryEval { get; internal set; } = new Dictionary<string, double>();
    /// <summary>The checkpoint written at this boundary, or null.</summary>
    public string? SavedCheckpoint { get; internal set; }
    internal double EpochLossSum;
    internal int EpochLossCount;
}

/// <summary>Where a hook is called: after an iteration, at the end of an epoch, or at the end of training.</summary>
public enum Boundary { Iteration, Epoch, End }

/// <summary>
/// Work the loop does around its steps, in the spirit of detectron2's engine/hooks.py: evaluation, checkpoints and
/// anything a user adds (a notebook's reconstruction snapshots). Hooks run in order at each boundary.
/// </summary>
public interface ITrainerHook
{
    void After(Boundary boundary, TrainerState state);
}

/// <summary>A hook that acts when its period is due and once more at the end of training, at most once per iteration
/// (a checkpoint due both by iterations and at the end is written once).</summary>
public abstract class PeriodicHook(Period period) : ITrainerHook
{
    long lastIteration = -1;

    public void After(Boundary boundary, TrainerState s)
    {
        bool due = boundary switch
        {
            Boundary.Iteration => period.DueAfterIteration(s.Iteration),
            Boundary.Epoch => period.DueAfterEpoch(s.Epoch),
            _ => true,
        };
        if (!due || lastIteration == s.Iteration) return;
        lastIteration = s.Iteration;
        Run(boundary, s);
    }

    protected abstract void Run(Boundary boundary, TrainerState s);
}

/// <summary>Runs the task's evaluation, logs evaluations between epochs as "eval" records, and leaves the metrics in
/// <see cref="TrainerState.BoundaryEval"/> (the epoch summary includes them).</summary>
public sealed class EvalHook(Period period, Func<int, IReadOnlyDictionary<string, double>> evaluate, MetricsLog log, nn.Module model)
    : PeriodicHook(period)
{
    public event Action<long, IReadOnlyDictionary<string, double>>? Evaluated;

    protected override void Run(Boundary boundary, TrainerState s)
    {
        var metrics = evaluate(s.Epoch);
        model.train();
        s.LastEval = s.BoundaryEval = metrics;
        if (boundary == Boundary.Iteration) log.Write("eval", s.Iteration, metrics, s.Epoch);
        Evaluated?.Invoke(s.Iteration, metrics);
    }
}

/// <summary>Writes the resumable checkpoint (atomically).</summary>
public sealed class CheckpointHook(Period period, Action<TrainerState> save) : PeriodicHook(period)
{
    protected override void Run(Boundary boundary, TrainerState s) => save(s);
}
