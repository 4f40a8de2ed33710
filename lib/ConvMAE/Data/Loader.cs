using System.Collections.Concurrent;
using System.Threading.Channels;
using ConvMAE.Training;

namespace ConvMAE.Data;

/// <summary>
/// Loader settings. <c>Workers</c> threads load and transform the samples of each batch in parallel. <c>Prefetch</c>
/// &gt; 0 also prepares that many batches ahead on a background task, overlapping loading with training.
///
/// Why Prefetch defaults to 0: TorchSharp 0.107 passes temporary <c>Scalar</c>s (the alpha of every <c>x + y</c>) to
/// libtorch without keeping them alive, so a garbage collection started by ANOTHER thread while the training thread
/// is inside libtorch can finalise a Scalar mid-call: a crash ("toFloat" check) or a silently wrong value. A
/// background loader allocates all the time and makes that likely (seen here about once per few thousand steps).
/// With Prefetch 0 loading happens between steps, so no managed allocation runs beside libtorch. On 2 cores
/// libtorch already uses both, so the overlap buys little. Use Prefetch &gt; 0 only where that risk is acceptable.
/// </summary>
public sealed record LoaderOptions(int BatchSize, bool Shuffle, bool DropLast, int Seed = 0, int Workers = 2, int Prefetch = 0,
                                   bool Strict = false);

/// <summary>Samples a loader can read by index: a dataset with its transform. <see cref="Load"/> throws
/// <see cref="BadSampleException"/> for a sample that cannot be used; randomness comes only from <c>rng</c>.</summary>
public interface ISampleSource<out TSample>
{
    int Count { get; }
    /// <summary>What the source reads, for messages ("data/demo/train (2600 images)").</summary>
    string Describe { get; }
    TSample Load(int index, Random rng);
}

/// <summary>Where a batch sits in its epoch and which dataset samples it holds (skipped ones left out), in order.</summary>
public sealed record BatchSlot(int Epoch, int Index, int[] SampleIndices);

/// <summary>What the training loop reads from: host batches of an epoch, from a given batch on.</summary>
public interface IBatchLoader<out THost> where THost : IHostBatch
{
    int BatchesPerEpoch { get; }
    string Describe { get; }
    IEnumerable<THost> Epoch(int epoch, int startBatch = 0, CancellationToken cancel = default);
    /// <summary>Messages about skipped samples, each naming the sample (drained by the caller's logger).</summary>
    IEnumerable<string> DrainWarnings();
}

/// <summary>
/// Multi-threaded, deterministic batches of any shape: a source of samples, and a per-task collate that packs the
/// samples of one batch into a host batch (managed memory only; the task moves it to the device).
///
/// Determinism: the epoch's order is a permutation drawn from (seed, epoch), as DistributedSampler's set_epoch does,
/// and every sample's augmentation draws from its own Random seeded by (seed, epoch, position). So a batch is the
/// same whatever the thread timing, and a run resumed at batch k of epoch e sees exactly what an uninterrupted run
/// saw. A bad sample is left out of its batch with a counted warning (unless Strict), so one bad file or annotation
/// cannot kill a long run.
/// </summary>
public class SampleLoader<TSample, THost>(ISampleSource<TSample> source, Func<BatchSlot, IReadOnlyList<TSample>, THost> collate,
                                          LoaderOptions options) : IBatchLoader<THost>
    where THost : IHostBatch
{
    readonly ConcurrentQueue<string> warnings = new();
    int skipped;

    public LoaderOptions Options => options;
    public string Describe => source.Describe;
    public int SampleCount => source.Count;
    public int BatchesPerEpoch => options.DropLast ? source.Count / options.BatchSize : (source.Count + options.BatchSize - 1) / options.BatchSize;
    /// <summary>Samples left out because they could not be used, since this loader was made.</summary>
    public int SkippedSamples => skipped;
    public IEnumerable<string> DrainWarnings() { while (warnings.TryDequeue(out var w)) yield return w; }

    /// <summary>Dataset indices of epoch <paramref name="epoch"/> in visiting order.</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, source.Count).ToArray();
        if (options.Shuffle) new Random(Seeds.Mix(options.Seed, epoch, -1)).Shuffle(order);
        return order;
    }

    /// <summary>Host batches of one epoch from batch <paramref name="startBatch"/> on: each loaded in parallel when asked
    /// for, or (Prefetch &gt; 0) produced ahead on a background task.</summary>
    public IEnumerable<THost> Epoch(int epoch, int startBatch = 0, CancellationToken cancel = default)
    {
        var order = Order(epoch);
        int batches = BatchesPerEpoch;
        if (options.Prefetch <= 0)
        {
            for (int b = startBatch; b < batches; b++)
            {
                cancel.ThrowIfCancellationRequested();
                yield return Produce(epoch, b, order);
            }
            yield break;
        }
        var channel = Channel.CreateBounded<THost>(new BoundedChannelOptions(Math.Max(1, options.Prefetch)) { SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var producer = Task.Run(async () =>
        {
            try
            {
                for (int b = startBatch; b < batches && !stop.IsCancellationRequested; b++)
                    await channel.Writer.WriteAsync(Produce(epoch, b, order), stop.Token);
                channel.Writer.Complete();
            }
            catch (Exception e) { channel.Writer.Complete(e); }
        });
        try
        {
            while (true)
            {
                THost? next = default;
                bool got;
                try
                {
                    if (!channel.Reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult()) break;
                    got = channel.Reader.TryRead(out next);
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    throw e.InnerException;
                }
                if (got) yield return next!;
            }
            producer.GetAwaiter().GetResult();
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
        }
    }

    THost Produce(int epoch, int batchIndex, int[] order)
    {
        int start = batchIndex * options.BatchSize, count = Math.Min(options.BatchSize, order.Length - start);
        var samples = new TSample[count];
        var ok = new bool[count];
        string? firstFailure = null;
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Workers) }, i =>
            {
                int position = start + i;
                try
                {
                    samples[i] = source.Load(order[position], new Random(Seeds.Mix(options.Seed, epoch, position)));
                    ok[i] = true;
                }
                catch (BadSampleException e) when (!options.Strict)
                {
                    Interlocked.Increment(ref skipped);
                    warnings.Enqueue($"skipped {e.Message}");
                    Interlocked.CompareExchange(ref firstFailure, e.Message, null);
                }
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
        {
            // Surface the first failure itself (it names the file), not Parallel.For's wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        var kept = Enumerable.Range(0, count).Where(i => ok[i]).ToArray();
        // One bad sample is skipped; a batch of several with not one readable sample means the data went away (a
        // folder moved or unmounted mid-run): stop here with the first failure named, not later on an empty tensor.
        if (kept.Length == 0 && count > 1)
            throw new InvalidDataException($"none of the {count} samples of batch {batchIndex} of epoch {epoch} could be read from " +
                                           $"{source.Describe} (is the data still there?); the first: {firstFailure}");
        var slot = new BatchSlot(epoch, batchIndex, kept.Select(i => order[start + i]).ToArray());
        return collate(slot, kept.Select(i => samples[i]).ToList());
    }
}

/// <summary>Deterministic seed mixing (SplitMix64 finaliser): independent streams per (seed, epoch, position).</summary>
public static class Seeds
{
    public static int Mix(int seed, int a, int b)
    {
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)a * 0xBF58476D1CE4E5B9UL ^ (ulong)(uint)b * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7fffffff);
    }
}
