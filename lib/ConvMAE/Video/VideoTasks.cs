using ConvMAE.Data;
using ConvMAE.Data.Video;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>Video pretraining on the shared loop: loss = model(clips) with tube masking drawn from libtorch's
/// generator (seeded per step by the loop, so a resumed run masks as the uninterrupted one).</summary>
public sealed class VideoPretrainTask(VideoMaskedAutoencoder model) : ITrainingTask<VideoHostBatch>
{
    public string Kind => "video_pretrain";
    public nn.Module Model => model;

    public IReadOnlyDictionary<string, Tensor> Losses(VideoHostBatch host, Device device, Random rng)
    {
        var batch = VideoBatch.FromHost(host, device);     // disposed with the step's scope
        using var output = model.forward(batch.Clips);
        return LossNames.Single(output.Loss.clone());
    }
}

/// <summary>
/// Video finetuning (VideoMAE's train_one_epoch): random erasing per frame, mixup/cutmix per batch, then the criterion.
/// The model is any clip classifier: <see cref="VideoConvViT"/> or the <see cref="FrameAveragedConvViT"/> baseline.
/// </summary>
public sealed class VideoClassificationTask(nn.Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> criterion) : ITrainingTask<VideoHostBatch>
{
    /// <summary>Checkpoint kind of a video classifier run.</summary>
    public const string VideoKind = "video_finetune";
    /// <summary>Checkpoint kind of the frame-averaged image baseline (its config is an image ConvViTConfig).</summary>
    public const string BaselineKind = "video_frame_baseline";

    public string Kind => model is FrameAveragedConvViT ? BaselineKind : VideoKind;
    public nn.Module Model => model;

    /// <summary>(clips [B,3,T,H,W], labels, rng) → (clips, soft targets); null for none.</summary>
    public Func<Tensor, Tensor, Random, (Tensor Clips, Tensor Targets)>? Mix { get; init; }
    /// <summary>(clips, rng) → clips: random erasing; null for none.</summary>
    public Func<Tensor, Random, Tensor>? Erase { get; init; }

    public IReadOnlyDictionary<string, Tensor> Losses(VideoHostBatch host, Device device, Random rng)
    {
        var batch = VideoBatch.FromHost(host, device);
        var clips = batch.Clips;
        Tensor targets = batch.Labels;
        if (Erase is not null) clips = Erase(clips, rng);
        if (Mix is not null) (clips, targets) = Mix(clips, targets, rng);
        return LossNames.Single(criterion(model.call(clips), targets));
    }

    /// <summary>
    /// VideoMAE's choices on clips: its RandomErasing with cube = True (the released default: one draw and one box per
    /// clip through every frame; <see cref="VideoErasing"/>), and timm's Mixup/CutMix on the batch. Departure, named:
    /// timm's cutmix on a 5-D clip slices x[:, :, yl:yh, xl:xh], i.e. the TIME and ROW axes with a box drawn for (H, W);
    /// the kit cuts the (H, W) box in every frame. Criterion: soft-target CE with mixing, else label-smoothing CE, else CE.
    /// </summary>
    public static VideoClassificationTask Create(nn.Module<Tensor, Tensor> model, int numClasses, double mixup, double cutmix,
                                                 double smoothing, double reprob, string remode = "pixel", int recount = 1)
    {
        var mix = new Mixup(mixup, cutmix, null, 1.0, 0.5, MixupMode.Batch, labelSmoothing: smoothing, numClasses: numClasses);
        var erasing = reprob > 0 ? VideoErasing.FromArgs(reprob, remode, recount) : null;
        return new VideoClassificationTask(model, Training.Losses.FinetuneCriterion(mix.Active, smoothing))
        {
            Erase = erasing is null ? null : (clips, rng) =>
            {
                // In place: the clips are this step's own batch tensor (VideoBatch.FromHost), read by nothing else.
                VideoErasing.Apply(clips, erasing, Enumerable.Range(0, (int)clips.shape[0]).Select(_ => new Random(rng.Next())).ToList());
                return clips;
            },
            Mix = mix.Active ? (clips, labels, rng) =>
            {
                long b = clips.shape[0], c = clips.shape[1], t = clips.shape[2], h = clips.shape[3], w = clips.shape[4];
                var (mixed, targets) = mix.Apply(clips.reshape(b, c * t, h, w), labels, rng);   // same box in every frame
                return (mixed.reshape(b, c, t, h, w), targets);
            } : null,
        };
    }
}
