using System.Diagnostics;
using ConvMAE.Data;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// The one training loop of the kit, for every task: it asks the loader for host batches, the task for named losses,
/// and runs <see cref="TrainStep"/>; per-iteration learning rate from an <see cref="ILrSchedule"/>, gradient
/// accumulation, optional clipping, a non-finite loss guard, per-step metrics (every loss by name) and hooks for
/// evaluation and checkpoints every N iterations or epochs. Checkpoints record the iteration, so a run resumes
/// mid-epoch exactly.
///
/// Determinism: the loader's order and augmentations are functions of (seed, epoch, position), and libtorch's
/// generator is re-seeded at every step from (seed, global step), so masking noise, drop-path and mixup are
/// functions of the step too. A run resumed from any checkpoint therefore continues exactly as it would have.
/// </summary>
public sealed class Trainer<THost>(ITrainingTask<THost> task, IOptimizer optimizer, IBatchLoader<THost> loader, TrainOptions options,
                                   MetricsLog log, string configJson, IEnumerable<KeyValuePair<string, object?>> args)
    where THost : IHostBatch
{
    public event Action<StepReport>? StepCompleted;
    public event Action<EpochReport>? EpochCompleted;
    /// <summary>Messages worth a user's attention (skipped samples...), as they happen.</summary>
    public event Action<string>? Warning;
    /// <summary>An evaluation finished: the iteration and its metrics.</summary>
    public event Action<long, IReadOnlyDictionary<string, double>>? Evaluated;

    /// <summary>The task's evaluation (the epoch is passed for the loader's order); null for none.</summary>
    public Func<int, IReadOnlyDictionary<string, double>>? Evaluate { get; init; }
    /// <summary>Hooks run after the kit's own (evaluation, then checkpoint) at every boundary.</summary>
    public IReadOnlyList<ITrainerHook> Hooks { get; init; } = [];

    public string CheckpointPath => Path.Combine(options.OutputDir, TrainingCheckpoint.FileName);

    /// <summary>Runs from <paramref name="resume"/> (or from scratch) to the end. Returns the last epoch's report.</summary>
    public EpochReport? Run(ResumeState? resume = null)
    {
        int perEpoch = loader.BatchesPerEpoch;
        if (perEpoch == 0) throw new InvalidOperationException($"{loader.Describe}: fewer samples than one batch");
        long total = options.TotalIterations(perEpoch);
        if (options.CheckpointPeriod is { Unit: PeriodUnit.Iterations, Every: > 0 } cp && cp.Every % options.AccumIter != 0)
            throw new ArgumentException($"checkpoint period {cp.Every} is not a multiple of --accum_iter {options.AccumIter}: a checkpoint " +
                                        "between accumulation steps could not resume exactly");
        var state = new TrainerState { TotalIterations = total, IterationsPerEpoch = perEpoch };
        if (resume is not null)
        {
            optimizer.LoadStateDict(resume.Optimizer);
            state.Iteration = resume.Iteration ?? (long)resume.NextEpoch * perEpoch;
            state.EpochLossSum = resume.EpochLossSum;
            state.EpochLossCount = resume.EpochLossCount;
        }
        var hooks = new List<ITrainerHook>();
        if (Evaluate is not null)
        {
            var evalHook = new EvalHook(options.EvalPeriod, Evaluate, log, task.Model);
            evalHook.Evaluated += (iteration, metrics) => Evaluated?.Invoke(iteration, metrics);
            hooks.Add(evalHook);
        }
        hooks.Add(new CheckpointHook(options.CheckpointPeriod, s =>
        {
            TrainingCheckpoint.Save(CheckpointPath, task.Kind, task.Model, optimizer, s, options.Seed, configJson, args);
            s.SavedCheckpoint = CheckpointPath;
        }));
        hooks.AddRange(Hooks);

        var run = Stopwatch.StartNew();
        long stepsThisRun = 0;
        EpochReport? last = null;
        task.Model.train();
        optimizer.ZeroGrad();
        var device = task.Model.parameters().FirstOrDefault()?.device ?? CPU;
        bool stop = state.Iteration >= total;
        while (!stop)
        {
            int epoch = (int)(state.Iteration / perEpoch);
            int startBatch = (int)(state.Iteration % perEpoch);
            state.Epoch = epoch;
            if (startBatch == 0) { state.EpochLossSum = 0; state.EpochLossCount = 0; }
            var epochClock = Stopwatch.StartNew();
            foreach (var host in loader.Epoch(epoch, startBatch))
            {
                var clock = Stopwatch.StartNew();
                int step = host.Index;
                long globalStep = state.Iteration;
                // Batch size 1 and its one sample skipped (the loader named it): the iteration passes without a step,
                // so the epoch's batch count and the schedule stay as planned.
                if (host.Count == 0) state.Iteration = globalStep + 1;
                else using (NativeCallGuard.Enter())
                using (NewDisposeScope())
                {
                    manual_seed(Seeds.Mix(options.Seed, (int)(globalStep & 0x7fffffff), (int)(globalStep >> 31)));
                    if (step % options.AccumIter == 0) optimizer.SetLearningRate(options.Schedule.At(globalStep, perEpoch, total));
                    double lr = optimizer.LearningRate;
                    var losses = TrainStep.Run(task, optimizer, host, device, new Random(Seeds.Mix(options.Seed, epoch, step + 7_340_033)),
                        options.AccumIter, update: (step + 1) % options.AccumIter == 0, options.ClipGrad,
                        value => $"loss is {value} at epoch {epoch} step {step} (global step {globalStep}); stopping. " +
                                 (File.Exists(CheckpointPath) ? $"The last good checkpoint is kept: {CheckpointPath}" : "No checkpoint was written yet."));
                    double loss = losses[LossNames.Total];
                    state.EpochLossSum += loss;
                    state.EpochLossCount++;
                    state.LastLosses = losses;
                    state.Iteration = globalStep + 1;
                    stepsThisRun++;
                    double ips = host.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                    var remaining = TimeSpan.FromSeconds(run.Elapsed.TotalSeconds / stepsThisRun * (total - state.Iteration));
                    var record = new Dictionary<string, double>(losses) { ["lr"] = lr, ["img_per_s"] = ips };
                    log.Write("train", state.Iteration, record, epoch);
                    StepCompleted?.Invoke(new StepReport(task.Kind, epoch, state.Epochs, step, perEpoch, state.Iteration, loss, lr, ips, run.Elapsed, remaining)
                                          { Losses = losses, TotalSteps = total });
                }
                foreach (var w in loader.DrainWarnings()) Warning?.Invoke(w);
                // What this iteration's hooks produce is reported at its epoch boundary too (a checkpoint or an
                // evaluation due both by iterations and at the end is done once).
                state.SavedCheckpoint = null;
                state.BoundaryEval = new Dictionary<string, double>();
                foreach (var h in hooks) h.After(Boundary.Iteration, state);
                stop = state.Iteration >= total || (options.MaxSteps is { } max && state.Iteration >= max);
                if (stop) break;
            }
            bool epochDone = state.Iteration % perEpoch == 0;
            if (!epochDone && !stop) throw new InvalidOperationException($"{loader.Describe}: epoch {epoch} ended after {state.Iteration % perEpoch} of {perEpoch} batches");
            if (epochDone)
                foreach (var h in hooks) h.After(Boundary.Epoch, state);
            if (stop)
                foreach (var h in hooks) h.After(Boundary.End, state);
            var summary = new Dictionary<string, double>(state.BoundaryEval)
            {
                ["train_loss"] = state.EpochLossCount > 0 ? state.EpochLossSum / state.EpochLossCount : double.NaN,
            };
            log.Write("epoch", state.Iteration, summary, epoch);
            last = new EpochReport(task.Kind, epoch, state.Epochs, summary["train_loss"], state.BoundaryEval, state.SavedCheckpoint, epochClock.Elapsed);
            EpochCompleted?.Invoke(last);
        }
        return last;
    }
}
