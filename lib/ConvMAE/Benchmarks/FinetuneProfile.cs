using ConvMAE.Modeling;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Benchmarks;

/// <summary>
/// Where a finetuning step's time goes (<c>convmae bench finetune --profile</c>): each part of the classifier run on
/// its own, forward then backward (<see cref="PartProfiler"/>), in training mode with the bench's drop path. The parts
/// are the forward's own (<see cref="ConvViT.TokenParts"/>), in either form (<c>--no_channels_last_stages</c>: the
/// official NCHW form); the last part is pooling, head and the label-smoothed cross-entropy against random labels. The optimizer row comes from
/// <see cref="PretrainProfile.Optimizer"/>.
/// </summary>
public static class FinetuneProfile
{
    public static IReadOnlyList<PartTime> Run(ConvViT model, Tensor images, int repetitions = 3, Action<string>? progress = null)
    {
        var c = model.Config;
        using var scope = NewDisposeScope();
        images = images.to(model.ComputeDtype);
        long n = images.shape[0];
        var profiler = new PartProfiler(model, images, repetitions, progress);

        var x = images;
        foreach (var (name, forward) in model.TokenParts()) x = profiler.Time(name, x, forward);   // the forward's own parts
        using var labels = randint(0, c.NumClasses, [n], dtype: int64);
        profiler.Time("pool,head,loss", x, t => Losses.LabelSmoothingCrossEntropy(model.Head.call(model.Pool(t)), labels, 0.1).reshape(1));
        return profiler.Rows;
    }
}
