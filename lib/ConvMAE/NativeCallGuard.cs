using System.Runtime;

namespace ConvMAE;

/// <summary>
/// Keeps the garbage collector out of one training or evaluation step.
///
/// Why: TorchSharp 0.107 hands libtorch the handle of temporary <c>Scalar</c>s (the alpha of every <c>x + y</c>, the
/// factor of <c>x * 0.5</c>) without keeping the Scalar alive, and a Scalar has a finaliser that frees its native
/// memory. If a collection starts while the training thread is inside libtorch (any thread can start one: the
/// finaliser thread running tensor finalisers, a loader thread), the Scalar can be freed mid-call: a crash
/// ("Expected false to be true ... toFloat") or a silently wrong value. Reproduced here about once per few thousand
/// steps. A no-GC region for the step's compute closes that window: the step allocates well under its budget, and
/// collections happen between steps, when no native call is in flight.
/// </summary>
public readonly struct NativeCallGuard : IDisposable
{
    /// <summary>Managed bytes a step may allocate before the runtime collects anyway (the region then just ends).</summary>
    public const long Budget = 64L * 1024 * 1024;

    readonly bool started;

    NativeCallGuard(bool started) => this.started = started;

    public static NativeCallGuard Enter()
    {
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) return new NativeCallGuard(false);   // nested: the outer one holds
        try { return new NativeCallGuard(GC.TryStartNoGCRegion(Budget)); }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException) { return new NativeCallGuard(false); }
    }

    public void Dispose()
    {
        if (!started || GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;   // a collection already ended it
        try { GC.EndNoGCRegion(); } catch (InvalidOperationException) { }
    }
}
