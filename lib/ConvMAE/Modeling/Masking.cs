using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// One masking of a batch of stage-3 token grids. <see cref="Mask"/> [N,L] float: 1 = removed, 0 = kept (official).
/// <see cref="IdsKeep"/> [N,Lk] int64 (kept tokens in shuffle order), <see cref="IdsRestore"/> [N,L] int64 (unshuffle).
/// </summary>
public sealed record MaskPlan(Tensor IdsKeep, Tensor Mask, Tensor IdsRestore) : IDisposable
{
    public int NumKept => (int)IdsKeep.shape[1];
    public int NumTokens => (int)Mask.shape[1];

    public MaskPlan MoveToOuterDisposeScope()
    {
        IdsKeep.MoveToOuterDisposeScope(); Mask.MoveToOuterDisposeScope(); IdsRestore.MoveToOuterDisposeScope();
        return this;
    }

    public void Dispose() { IdsKeep.Dispose(); Mask.Dispose(); IdsRestore.Dispose(); }
}

/// <summary>Random token masking (models_convmae.random_masking) and the stage-1/2 mask upsampling.</summary>
public static class Masking
{
    /// <summary>Tokens kept: <c>int(L·(1 - ratio))</c>, truncating as Python's int() (196·0.25 → 49).</summary>
    public static int LenKeep(int numTokens, double maskRatio) => (int)(numTokens * (1 - maskRatio));

    /// <summary>
    /// The official random_masking with the noise given: ids_shuffle = argsort(noise) (small noise = keep),
    /// ids_restore = argsort(ids_shuffle), ids_keep = ids_shuffle[:, :len_keep], mask = gather(1 for ≥ len_keep).
    /// </summary>
    /// <param name="noise">[N,L] uniform noise (the official code draws <c>torch.rand(N, L)</c>).</param>
    public static MaskPlan FromNoise(Tensor noise, double maskRatio)
    {
        if (noise.dim() != 2) throw new ArgumentException($"noise: expected [N,L], got [{string.Join(",", noise.shape)}]");
        using var scope = NewDisposeScope();
        long n = noise.shape[0], L = noise.shape[1];
        int lenKeep = LenKeep((int)L, maskRatio);
        var idsShuffle = noise.argsort(1);                        // [N,L] ascending
        var idsRestore = idsShuffle.argsort(1);                   // [N,L]
        var idsKeep = idsShuffle[.., ..lenKeep];                  // [N,Lk]
        var mask = ones(n, L, dtype: float32, device: noise.device);
        mask[.., ..lenKeep] = 0;
        mask = mask.gather(1, idsRestore);                        // unshuffle: [N,L], 1 = removed
        return new MaskPlan(idsKeep.contiguous(), mask, idsRestore).MoveToOuterDisposeScope();
    }

    /// <summary>Official masking with fresh <c>torch.rand(N, L)</c> noise (deterministic from torch.manual_seed).</summary>
    public static MaskPlan Random(long batch, int numTokens, double maskRatio, Device? device = null)
    {
        using var noise = rand(batch, numTokens, device: device);
        return FromNoise(noise, maskRatio);
    }

    /// <summary>
    /// A given mask [N,L] (1 = removed). Every row must keep the same number of tokens. Kept tokens are listed in
    /// ascending position order in IdsKeep, removed ones after them, as random_masking would give for noise that
    /// ranks them so.
    /// </summary>
    public static MaskPlan FromMask(Tensor mask)
    {
        if (mask.dim() != 2) throw new ArgumentException($"mask: expected [N,L], got [{string.Join(",", mask.shape)}]");
        using var scope = NewDisposeScope();
        var m = mask.to(float32);
        if (!(m.eq(0) | m.eq(1)).all().item<bool>()) throw new ArgumentException("mask: values must be 0 (kept) or 1 (removed)");
        var removed = m.sum(1);                                   // [N]
        if (!removed.eq(removed[0]).all().item<bool>())
            throw new ArgumentException("mask: every row must remove the same number of tokens");
        long L = m.shape[1];
        int lenKeep = (int)(L - removed[0].item<float>());
        // Distinct synthetic noise: kept tokens in [0, 0.5), removed in [1, 1.5), ordered by position.
        var noise = m + arange(L, dtype: float32, device: m.device) / (2.0 * L);
        var idsShuffle = noise.argsort(1);
        var idsRestore = idsShuffle.argsort(1);
        var idsKeep = idsShuffle[.., ..lenKeep].contiguous();
        return new MaskPlan(idsKeep, m.clone(), idsRestore).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Token mask [N,L] (L = g·g) → [N,1,g·f,g·f], nearest-neighbour ×f: out[n,0,f·i+a,f·j+b] = mask[n,g·i+j].
    /// This equals the official repeat/permute construction (models_convmae.py:165-166) with f = 4 and f = 2.
    /// </summary>
    public static Tensor Upsample(Tensor mask, int grid, int factor)
    {
        using var scope = NewDisposeScope();
        var m = mask.view(mask.shape[0], 1, grid, grid);
        return m.repeat_interleave(factor, 2).repeat_interleave(factor, 3).MoveToOuterDisposeScope();
    }
}
