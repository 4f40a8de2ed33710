using System.Runtime;
using Xunit;

namespace ConvMAE.Tests.Foundation;

/// <summary>The guard that keeps collections out of a step (see NativeCallGuard for the TorchSharp Scalar race).</summary>
public class NativeCallGuardTests
{
    [Fact]
    public void No_collection_runs_inside_the_guard_even_when_another_thread_allocates()
    {
        int before, after;
        using (NativeCallGuard.Enter())
        {
            Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
            before = GC.CollectionCount(0);
            // Another thread allocates 20 MB in small pieces: without the region that is several gen-0 collections.
            var t = new Thread(() => { var keep = new List<byte[]>(); for (int i = 0; i < 10_000; i++) keep.Add(new byte[2_000]); });
            t.Start();
            t.Join();
            after = GC.CollectionCount(0);
            using (NativeCallGuard.Enter()) Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);   // nesting is harmless
            Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        }
        Assert.Equal(before, after);
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }
}
