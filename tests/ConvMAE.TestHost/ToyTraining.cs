using ConvMAE.Data;
using ConvMAE.Recipes;
using ConvMAE.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.TestHost;

/// <summary>The toy run's flags: the shared run settings (output_dir, resume, max_iter, checkpoint_period, seed).</summary>
public sealed record ToyArgs : RunArgs;

/// <summary>One sample: four features and a target.</summary>
public sealed record ToySample(float[] X, float Y);

/// <summary>A batch of toy samples on the host.</summary>
public sealed record ToyBatch(int Epoch, int Index, float[] X, float[] Y) : IHostBatch
{
    public int Count => Y.Length;
}

/// <summary>64 samples of y = w·x + 0.1·sin(3·x0); the loader's per-sample Random jitters the features (an augmentation).
/// The samples in <paramref name="bad"/> cannot be read (a <see cref="BadSampleException"/> naming them), as a corrupt file.</summary>
public sealed class ToySource(IReadOnlySet<int>? bad = null) : ISampleSource<ToySample>
{
    public int Count => 64;
    public string Describe => "toy regression data (64 samples)";

    public ToySample Load(int index, Random rng)
    {
        if (bad?.Contains(index) == true) throw new BadSampleException($"toy sample {index}", "unreadable (--bad_samples)");
        var r = new Random(index);
        var x = Enumerable.Range(0, 4).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        float y = 0.5f * x[0] - 1.5f * x[1] + 2f * x[2] + 0.25f * x[3] + 0.1f * MathF.Sin(3 * x[0]);
        for (int i = 0; i < 4; i++) x[i] += (float)((rng.NextDouble() - 0.5) * 0.02);
        return new ToySample(x, y);
    }
}

/// <summary>A trunk with dropout (draws from libtorch's generator, which the loop seeds per step) and two heads.</summary>
public sealed class ToyNet : nn.Module<Tensor, (Tensor Main, Tensor Aux)>
{
    readonly Linear fc1 = nn.Linear(4, 16);
    readonly Dropout drop = nn.Dropout(0.1);
    readonly Linear head = nn.Linear(16, 1);
    readonly Linear aux_head = nn.Linear(16, 1);

    public ToyNet() : base(nameof(ToyNet)) => RegisterComponents();

    public override (Tensor Main, Tensor Aux) forward(Tensor x)
    {
        var h = drop.call(nn.functional.relu(fc1.call(x)));
        return (head.call(h).squeeze(1), aux_head.call(h).squeeze(1));
    }
}

/// <summary>Two named losses, as a main and an auxiliary head (weighted 0.4, as UperNet's FCN head is).</summary>
public sealed class ToyTask(ToyNet model) : ITrainingTask<ToyBatch>
{
    public string Kind => "toy";
    public nn.Module Model => model;

    public IReadOnlyDictionary<string, Tensor> Losses(ToyBatch b, Device device, Random rng)
    {
        var x = tensor(b.X, [b.Count, 4], device: device);
        var y = tensor(b.Y, device: device);
        var (main, aux) = model.call(x);
        return new Dictionary<string, Tensor>
        {
            ["loss_main"] = nn.functional.mse_loss(main, y),
            ["loss_aux"] = 0.4 * nn.functional.l1_loss(aux, y),
        };
    }
}

/// <summary>Sleeps after every iteration, so a test can kill the run part-way.</summary>
public sealed class DelayHook(int milliseconds) : ITrainerHook
{
    public void After(Boundary boundary, TrainerState state)
    {
        if (boundary == Boundary.Iteration && milliseconds > 0) Thread.Sleep(milliseconds);
    }
}

public static class ToyTraining
{
    public sealed record Result(long Iteration, string? Checkpoint);

    /// <summary>Batch 8 (8 iterations per epoch), AdamW, poly schedule with 5 warmup iterations, an evaluation
    /// every 8 iterations, a checkpoint every <c>CheckpointPeriod</c> iterations, on the shared loop.</summary>
    public static Result Run(ToyArgs a, int stepDelayMs, int batchSize = 8, IReadOnlySet<int>? badSamples = null)
    {
        var device = RecipeRun.Prepare(a);
        manual_seed(a.Seed);
        var model = new ToyNet();
        var source = new ToySource(badSamples);
        var loader = new SampleLoader<ToySample, ToyBatch>(source,
            (slot, samples) => new ToyBatch(slot.Epoch, slot.Index, samples.SelectMany(s => s.X).ToArray(), samples.Select(s => s.Y).ToArray()),
            new LoaderOptions(batchSize, Shuffle: true, DropLast: true, a.Seed, Workers: 2));
        var optimizer = new ConvMAE.Training.AdamW(ParamGroups.WeightDecay(model.named_parameters(), 0.01), 0.01);
        var options = new TrainOptions
        {
            MaxIter = a.MaxIter, Schedule = new WarmupPoly(0.01, Power: 1.0, WarmupIters: 5, WarmupRatio: 1e-6), Seed = a.Seed,
            OutputDir = a.OutputDir, LogDir = a.LogDir, CheckpointPeriod = Period.Iterations(a.CheckpointPeriod), EvalPeriod = Period.Iterations(8),
        };
        var validation = Enumerable.Range(0, 16).Select(i => source.Load(1000 + i, new Random(i))).ToList();
        IReadOnlyDictionary<string, double> Evaluate(int epoch)
        {
            model.eval();
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var x = tensor(validation.SelectMany(s => s.X).ToArray(), [validation.Count, 4]);
            var y = tensor(validation.Select(s => s.Y).ToArray());
            return new Dictionary<string, double> { ["mse"] = nn.functional.mse_loss(model.call(x).Main, y).item<float>() };
        }
        long iteration = 0;
        var run = RecipeRun.Train(new RunPlan<ToyBatch>("toy", model, m => new ToyTask((ToyNet)m), () => new ToyNet(), optimizer, loader,
                                                        options, """{"toy": true}""", a)
                                  { Evaluate = Evaluate, Hooks = [new DelayHook(stepDelayMs)] },
                                  new RunObserver { Step = r => iteration = r.GlobalStep, Warning = w => Console.WriteLine($"warning: {w}") });
        return new Result(iteration, run.Checkpoint);
    }
}
