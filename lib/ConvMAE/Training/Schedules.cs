namespace ConvMAE.Training;

/// <summary>
/// A learning-rate schedule: the base rate at an iteration (0-based, the iteration about to run). Each parameter
/// group then applies its own lr_scale, as the official codes do. The loop tells the schedule the run's shape
/// (iterations per epoch, total iterations) so epoch-based and iteration-based recipes share one interface.
/// </summary>
public interface ILrSchedule
{
    double At(long iteration, int iterationsPerEpoch, long totalIterations);
}

/// <summary>
/// The official MAE/ConvMAE util/lr_sched.adjust_learning_rate: linear warmup over <see cref="WarmupEpochs"/>, then a
/// half-cycle cosine to <see cref="MinLr"/> at <see cref="Epochs"/>, evaluated per iteration at the fractional epoch
/// e = epoch + step / steps_per_epoch (computed in exactly that order, so values match the original loop bit for bit).
/// <see cref="Epochs"/> 0: the cosine spans the run's iterations (--max_iter) instead, in epoch units.
/// </summary>
public sealed record HalfCycleCosine(double BaseLr, double MinLr, double WarmupEpochs, double Epochs) : ILrSchedule
{
    public double At(long iteration, int iterationsPerEpoch, long totalIterations) =>
        AtEpoch((int)(iteration / iterationsPerEpoch) + (double)(int)(iteration % iterationsPerEpoch) / iterationsPerEpoch,
                Epochs > 0 ? Epochs : (double)totalIterations / iterationsPerEpoch);

    public double AtEpoch(double epoch) => AtEpoch(epoch, Epochs);

    double AtEpoch(double epoch, double epochs)
    {
        if (epoch < WarmupEpochs) return BaseLr * epoch / WarmupEpochs;
        return MinLr + (BaseLr - MinLr) * 0.5 * (1.0 + Math.Cos(Math.PI * (epoch - WarmupEpochs) / (epochs - WarmupEpochs)));
    }

    /// <summary>lr = blr × effective batch / 256 (official: when --lr is not given), effective = batch × accum_iter × world_size.</summary>
    public static double ScaledLr(double blr, int batchSize, int accumIter, int worldSize = 1) =>
        blr * batchSize * accumIter * worldSize / 256.0;
}

/// <summary>
/// detectron2's LRMultiplier(WarmupParamScheduler(CosineParamScheduler(1, 0), warmup_factor, warmup_length)) over
/// max_iter, as ConvMAE's detection configs use it: with where = iteration / total, the factor rises linearly from
/// warmup_factor × cos(0) to the cosine's value at warmup_length during the first warmup_length of training, then
/// follows the cosine 0.5·(1 + cos(π·where)) itself (fvcore's "fixed" interval, not rescaled after warmup).
/// </summary>
public sealed record WarmupCosine(double BaseLr, double WarmupLength, double WarmupFactor = 0.001, double EndFactor = 0.0) : ILrSchedule
{
    // fvcore's WHERE_EPSILON: a boundary iteration belongs to the later phase.
    const double WhereEpsilon = 1e-6;

    public double At(long iteration, int iterationsPerEpoch, long totalIterations) => BaseLr * Factor((double)iteration / totalIterations);

    public double Factor(double where)
    {
        if (where + WhereEpsilon <= WarmupLength && WarmupLength > 0)
        {
            double start = WarmupFactor * Cosine(0), end = Cosine(WarmupLength), t = where / WarmupLength;
            return end * t + start * (1 - t);                 // fvcore LinearParamScheduler
        }
        return Cosine(where);
    }

    double Cosine(double where) => EndFactor + 0.5 * (1.0 - EndFactor) * (1 + Math.Cos(Math.PI * where));
}

/// <summary>
/// mmcv's PolyLrUpdaterHook(power, min_lr, by_epoch=False) with linear warmup, as ConvMAE's segmentation config uses it
/// (power 1, min_lr 0, warmup_iters 1500, warmup_ratio 1e-6): regular = (base − min)·(1 − iter/max_iter)^power + min;
/// during warmup lr = regular · (1 − k) with k = (1 − iter/warmup_iters)·(1 − warmup_ratio). mmcv applies min_lr to
/// each group's own initial lr; with the official min_lr 0 that equals scaling the base rate, which is what this does.
/// </summary>
public sealed record WarmupPoly(double BaseLr, double Power = 1.0, double MinLr = 0.0, int WarmupIters = 0, double WarmupRatio = 0.1) : ILrSchedule
{
    public double At(long iteration, int iterationsPerEpoch, long totalIterations)
    {
        double regular = (BaseLr - MinLr) * Math.Pow(1 - (double)iteration / totalIterations, Power) + MinLr;
        if (iteration >= WarmupIters) return regular;
        double k = (1 - (double)iteration / WarmupIters) * (1 - WarmupRatio);
        return regular * (1 - k);
    }
}

/// <summary>
/// detectron2's MultiStepParamScheduler (the factor is gamma^(milestones passed); milestones in iterations) with its
/// linear warmup (WarmupParamScheduler, fixed interval): the classic "1×/3×" step schedules.
/// </summary>
public sealed record WarmupMultiStep(double BaseLr, IReadOnlyList<long> Milestones, double Gamma = 0.1, double WarmupLength = 0.0,
                                     double WarmupFactor = 0.001) : ILrSchedule
{
    public double At(long iteration, int iterationsPerEpoch, long totalIterations)
    {
        double where = (double)iteration / totalIterations;
        if (WarmupLength > 0 && where + 1e-6 <= WarmupLength)
        {
            double start = WarmupFactor * Step(0), end = Step((long)(WarmupLength * totalIterations + 1e-6)), t = where / WarmupLength;
            return BaseLr * (end * t + start * (1 - t));
        }
        return BaseLr * Step(iteration);
    }

    double Step(long iteration) => Math.Pow(Gamma, Milestones.Count(m => iteration >= m));
}
