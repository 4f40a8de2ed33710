using System.Collections.Concurrent;
using System.Threading.Channels;

namespace ConvMAE.Data;

/// <summary>
/// Loader settings. <c>Workers</c> threads decode and transform each batch in parallel. <c>Prefetch</c> &gt; 0 also
/// prepares that many batches ahead on a background task, overlapping decoding with training.
///
/// Why Prefetch defaults to 0: TorchSharp 0.107 passes temporary <c>Scalar</c>s (the alpha of every <c>x + y</c>) to
/// libtorch without keeping them alive, so a garbage collection started by ANOTHER thread while the training thread
/// is inside libtorch can finalise a Scalar mid-call: a crash ("toFloat" check) or a silently wrong value. A
/// background loader allocates all the time and makes that likely (seen here about once per few thousand steps).
/// With Prefetch 0 decoding happens between steps, so no managed allocation runs beside libtorch. On 2 cores
/// libtorch already uses both, so the overlap buys little. Use Prefetch &gt; 0 only where that risk is acceptable.
/// </summary>
public sealed record LoaderOptions(int BatchSize, bool Shuffle, bool DropLast, int Seed = 0, int Workers = 2, int Prefetch = 0,
                                   bool Strict = false);

/// <summary>
/// Multi-threaded, deterministic batches from an <see cref="ImageFolder"/>.
///
/// Determinism: the epoch's order is a permutation drawn from (seed, epoch), as DistributedSampler's
/// set_epoch does, and every sample's augmentation draws from its own Random seeded by (seed, epoch, position).
/// So a batch is the same whatever the thread timing, and a run resumed at batch k of epoch e sees exactly
/// what an uninterrupted run saw. A corrupt image is left out of its batch with a counted warning (unless
/// Strict), so one bad file cannot kill a long run.
/// </summary>
public sealed class ImageLoader(ImageFolder data, ISampleTransform transform, LoaderOptions options)
{
    readonly ConcurrentQueue<string> warnings = new();
    int skipped;

    public ImageFolder Data => data;
    public LoaderOptions Options => options;
    public int BatchesPerEpoch => options.DropLast ? data.Count / options.BatchSize : (data.Count + options.BatchSize - 1) / options.BatchSize;
    /// <summary>Images left out because they could not be decoded, since this loader was made.</summary>
    public int SkippedImages => skipped;
    /// <summary>Messages about skipped images, each naming the file (drained by the caller's logger).</summary>
    public IEnumerable<string> DrainWarnings() { while (warnings.TryDequeue(out var w)) yield return w; }

    /// <summary>Dataset indices of epoch <paramref name="epoch"/> in visiting order.</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, data.Count).ToArray();
        if (options.Shuffle) new Random(Seeds.Mix(options.Seed, epoch, -1)).Shuffle(order);
        return order;
    }

    /// <summary>Host batches of one epoch from batch <paramref name="startBatch"/> on: each decoded in parallel when asked
    /// for, or (Prefetch &gt; 0) produced ahead on a background task.</summary>
    public IEnumerable<HostBatch> Epoch(int epoch, int startBatch = 0, CancellationToken cancel = default)
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
        var channel = Channel.CreateBounded<HostBatch>(new BoundedChannelOptions(Math.Max(1, options.Prefetch)) { SingleWriter = true });
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
                HostBatch? next = null;
                try
                {
                    if (!channel.Reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult()) break;
                    channel.Reader.TryRead(out next);
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    throw e.InnerException;
                }
                if (next is not null) yield return next;
            }
            producer.GetAwaiter().GetResult();
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
        }
    }

    HostBatch Produce(int epoch, int batchIndex, int[] order)
    {
        int start = batchIndex * options.BatchSize, count = Math.Min(options.BatchSize, order.Length - start);
        int size = transform.OutputSize, stride = size * size * 3;
        var pixels = new byte[count * stride];
        var ok = new bool[count];
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Workers) }, i => Load(i));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
        {
            // Surface the first failure itself (it names the file), not Parallel.For's wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        void Load(int i)
        {
            int position = start + i;
            var (path, _) = data.Samples[order[position]];
            try
            {
                using var image = ImageDecoding.Load(path);
                var sample = transform.Apply(image, new Random(Seeds.Mix(options.Seed, epoch, position)));
                Buffer.BlockCopy(sample.Data, 0, pixels, i * stride, stride);
                ok[i] = true;
            }
            catch (BadImageException e) when (!options.Strict)
            {
                Interlocked.Increment(ref skipped);
                warnings.Enqueue($"skipped {e.Message}");
            }
        }
        int kept = ok.Count(x => x);
        if (kept < count)   // compact the batch over the skipped samples
        {
            var packed = new byte[kept * stride];
            for (int i = 0, j = 0; i < count; i++)
                if (ok[i]) Buffer.BlockCopy(pixels, i * stride, packed, j++ * stride, stride);
            pixels = packed;
        }
        var indices = Enumerable.Range(0, count).Where(i => ok[i]).Select(i => order[start + i]).ToArray();
        var labels = indices.Select(ix => (long)data.Samples[ix].Label).ToArray();
        return new HostBatch(epoch, batchIndex, pixels, kept, size, labels, indices);
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
