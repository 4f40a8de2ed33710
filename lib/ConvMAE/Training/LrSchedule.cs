namespace ConvMAE.Training;

/// <summary>
/// The official util/lr_sched.adjust_learning_rate: linear warmup, then a half-cycle cosine to min_lr, evaluated
/// per iteration at the fractional epoch e = epoch + step / steps_per_epoch. A group's lr is lr × its lr_scale.
/// </summary>
public sealed record LrSchedule(double BaseLr, double MinLr, double WarmupEpochs, double Epochs)
{
    public double At(double epoch)
    {
        if (epoch < WarmupEpochs) return BaseLr * epoch / WarmupEpochs;
        return MinLr + (BaseLr - MinLr) * 0.5 * (1.0 + Math.Cos(Math.PI * (epoch - WarmupEpochs) / (Epochs - WarmupEpochs)));
    }

    /// <summary>lr = blr × effective batch / 256 (official: when --lr is not given), effective = batch × accum_iter × world_size.</summary>
    public static double ScaledLr(double blr, int batchSize, int accumIter, int worldSize = 1) =>
        blr * batchSize * accumIter * worldSize / 256.0;
}
