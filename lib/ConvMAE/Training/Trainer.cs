using System.Diagnostics;
using ConvMAE.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>
/// The one training loop of the kit (official engine_pretrain/engine_finetune): per-iteration lr schedule, gradient
/// accumulation, optional clipping, a non-finite loss guard, checkpoints every N epochs and at the end, per-step
/// metrics, and an evaluation hook at the end of each epoch.
///
/// Determinism: the loader's order and augmentations are functions of (seed, epoch, position), and libtorch's
/// generator is re-seeded at every step from (seed, global step), so masking noise, drop-path and mixup are
/// functions of the step too. A run resumed from any checkpoint therefore continues exactly as it would have.
/// </summary>
public sealed class Trainer(ITrainingTask task, IOptimizer optimizer, ImageLoader loader, TrainOptions options,
                            MetricsLog log, string configJson, IEnumerable<KeyValuePair<string, object?>> args)
{
    public event Action<StepReport>? StepCompleted;
    public event Action<EpochReport>? EpochCompleted;
    /// <summary>Messages worth a user's attention (skipped images...), as they happen.</summary>
    public event Action<string>? Warning;
    /// <summary>
    /// Mixed precision: the steps run <see cref="ComputeTask"/> (the same task on the bf16 copy of the model) and the
    /// master weights of <c>task</c> are updated; null: fp32, the steps run <c>task</c> itself.
    /// </summary>
    public MixedPrecision? Precision { get; init; }
    public ITrainingTask? ComputeTask { get; init; }

    /// <summary>Metrics after each epoch (finetune/linprobe: accuracy on val); null for none.</summary>
    public Func<int, IReadOnlyDictionary<string, double>>? Evaluate { get; init; }

    public string CheckpointPath => Path.Combine(options.OutputDir, TrainingCheckpoint.FileName);

    /// <summary>Runs from <paramref name="resume"/> (or from scratch) to the last epoch. Returns the last epoch's report.</summary>
    public EpochReport? Run(ResumeState? resume = null)
    {
        int startEpoch = resume?.NextEpoch ?? 0;
        long globalStep = resume?.GlobalStep ?? 0;
        if (resume is not null) optimizer.LoadStateDict(resume.Optimizer);
        int steps = loader.BatchesPerEpoch;
        if (steps == 0) throw new InvalidOperationException($"{loader.Data.Root}: fewer images ({loader.Data.Count}) than one batch ({loader.Options.BatchSize})");
        var schedule = options.Schedule;
        var run = Stopwatch.StartNew();
        long stepsThisRun = 0, totalSteps = (long)options.Epochs * steps;
        EpochReport? last = null;
        task.Model.train();
        optimizer.ZeroGrad();
        for (int epoch = startEpoch; epoch < options.Epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            double lossSum = 0;
            int lossCount = 0;
            foreach (var host in loader.Epoch(epoch))
            {
                var clock = Stopwatch.StartNew();
                int step = host.Index;
                using (NativeCallGuard.Enter())
                using (var scope = NewDisposeScope())
                {
                    manual_seed(Seeds.Mix(options.Seed, (int)(globalStep & 0x7fffffff), (int)(globalStep >> 31)));
                    using var batch = Batch.FromHost(host, Device(task));
                    if (step % options.AccumIter == 0) optimizer.SetLearningRate(schedule.At(epoch + (double)step / steps));
                    double lr = optimizer.LearningRate;
                    Precision?.BeforeStep();
                    var loss = (ComputeTask ?? task).Loss(batch, new Random(Seeds.Mix(options.Seed, epoch, step + 7_340_033)));
                    double value = loss.item<float>();
                    if (!double.IsFinite(value))
                        throw new NonFiniteLossException(
                            $"loss is {value} at epoch {epoch} step {step} (global step {globalStep}); stopping. " +
                            (File.Exists(CheckpointPath) ? $"The last good checkpoint is kept: {CheckpointPath}" : "No checkpoint was written yet."));
                    (options.AccumIter > 1 ? loss / options.AccumIter : loss).backward();
                    Precision?.AfterBackward();
                    if ((step + 1) % options.AccumIter == 0)
                    {
                        if (options.ClipGrad is { } clip) nn.utils.clip_grad_norm_(optimizer.Parameters, clip);
                        optimizer.Step();
                        optimizer.ZeroGrad();
                    }
                    lossSum += value;
                    lossCount++;
                    globalStep++;
                    stepsThisRun++;
                    double ips = host.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                    var remaining = TimeSpan.FromSeconds(run.Elapsed.TotalSeconds / stepsThisRun * (totalSteps - globalStep));
                    log.Write("train", globalStep, new Dictionary<string, double> { ["loss"] = value, ["lr"] = lr, ["img_per_s"] = ips }, epoch);
                    StepCompleted?.Invoke(new StepReport(task.Kind, epoch, options.Epochs, step, steps, globalStep, value, lr, ips, run.Elapsed, remaining));
                }
                foreach (var w in loader.DrainWarnings()) Warning?.Invoke(w);
                if (options.MaxSteps is { } max && globalStep >= max) break;
            }
            var eval = Evaluate?.Invoke(epoch) ?? new Dictionary<string, double>();
            task.Model.train();
            bool lastEpoch = epoch == options.Epochs - 1 || (options.MaxSteps is { } m && globalStep >= m);
            string? saved = null;
            if (lastEpoch || (epoch + 1) % Math.Max(1, options.SaveEvery) == 0)
            {
                TrainingCheckpoint.Save(CheckpointPath, task, optimizer, epoch, globalStep, options.Seed, configJson, args);
                saved = CheckpointPath;
            }
            var summary = new Dictionary<string, double>(eval) { ["train_loss"] = lossCount > 0 ? lossSum / lossCount : double.NaN };
            log.Write("epoch", globalStep, summary, epoch);
            last = new EpochReport(task.Kind, epoch, options.Epochs, summary["train_loss"], eval, saved, epochClock.Elapsed);
            EpochCompleted?.Invoke(last);
            if (lastEpoch) break;
        }
        return last;
    }

    static Device Device(ITrainingTask task) => task.Model.parameters().FirstOrDefault()?.device ?? CPU;
}
