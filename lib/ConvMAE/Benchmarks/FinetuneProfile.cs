using ConvMAE.Modeling;
using ConvMAE.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Benchmarks;

/// <summary>
/// Where a finetuning step's time goes (<c>convmae bench finetune --profile</c>): each part of the classifier run on
/// its own, forward then backward (<see cref="PartProfiler"/>), in training mode with the bench's drop path. The
/// channels-last form (<see cref="ConvViTConfig.ChannelsLastStages"/>) times its own parts; the official NCHW form
/// (<c>--no_channels_last_stages</c>) the official modules. pos_embed is added in the patch_embed3/4 part; the last
/// part is pooling, head and the label-smoothed cross-entropy against random labels. The optimizer row comes from
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
        Tensor Part(string name, Tensor input, Func<Tensor, Tensor> f) => profiler.Time(name, input, f);

        Tensor x;
        if (c.ChannelsLastStages)
        {
            x = Part("patch_embed1", images, t => model.PatchEmbed1.ForwardBlocks(t.permute(0, 2, 3, 1).unsqueeze(1).contiguous()).squeeze(1));   // [N,4g,4g,E0]
            for (int i = 0; i < model.Blocks1.Count; i++) { var b = model.Blocks1[i]; x = Part($"blocks1.{i}", x, t => b.ForwardChannelsLast(t)); }
            x = Part("patch_embed2", x, t => model.PatchEmbed2.ForwardBlocks(t.unsqueeze(1)).squeeze(1));                 // [N,2g,2g,E1]
            for (int i = 0; i < model.Blocks2.Count; i++) { var b = model.Blocks2[i]; x = Part($"blocks2.{i}", x, t => b.ForwardChannelsLast(t)); }
            x = Part("patch_embed3,patch_embed4", x, t =>
                model.PatchEmbed4.call(model.PatchEmbed3.ForwardBlocks(t.unsqueeze(1)).reshape(n, -1, c.EmbedDim[2])) + model.PosEmbed);   // [N,L,E2]
        }
        else
        {
            x = Part("patch_embed1", images, t => model.PatchEmbed1.call(t));                                             // [N,E0,4g,4g]
            for (int i = 0; i < model.Blocks1.Count; i++) { var b = model.Blocks1[i]; x = Part($"blocks1.{i}", x, t => b.call(t, null)); }
            x = Part("patch_embed2", x, t => model.PatchEmbed2.call(t));                                                  // [N,E1,2g,2g]
            for (int i = 0; i < model.Blocks2.Count; i++) { var b = model.Blocks2[i]; x = Part($"blocks2.{i}", x, t => b.call(t, null)); }
            x = Part("patch_embed3,patch_embed4", x, t => model.PatchEmbed4.call(TokenOps.ToTokens(model.PatchEmbed3.call(t))) + model.PosEmbed);
        }
        x = Part("blocks3", x, t => TokenOps.RunBlocks(model.Blocks3, t));
        using var labels = randint(0, c.NumClasses, [n], dtype: int64);
        Part("pool,head,loss", x, t => Losses.LabelSmoothingCrossEntropy(model.Head.call(model.Pool(t)), labels, 0.1).reshape(1));
        return profiler.Rows;
    }
}
