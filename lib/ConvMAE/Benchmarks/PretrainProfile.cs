using System.Diagnostics;
using System.Text.Json.Serialization;
using ConvMAE.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Benchmarks;

/// <summary>One part's forward and backward, milliseconds (the median of the timed repetitions).</summary>
public sealed record PartTime([property: JsonPropertyName("part")] string Part, [property: JsonPropertyName("fwd_ms")] double FwdMs,
                              [property: JsonPropertyName("bwd_ms")] double BwdMs);

/// <summary>
/// Where a pretraining step's time goes (<c>convmae bench pretrain --profile</c>): each part of the model run on its own,
/// forward then backward, on the activations the part before it produced. The input of each part is a leaf that
/// requires grad (not the images), and its backward starts from a random gradient of its output's shape, so a part's
/// backward includes its input gradient, as in the whole step. pos_embed is added in the patch_embed3/4 part, as there. Sparse form: stages 1-2 on the visible blocks; dense: the official
/// full-resolution stages with masked convolution. The decoder part includes a mean-squared loss against a random
/// target of the prediction's shape (the official loss's shape; its cost is negligible). The optimizer step is timed
/// after the parts (<see cref="Optimizer"/>); what the trainer does around the model (masking noise, the norm-pix
/// target, guards) is not a part: the bench's step time minus the parts' sum and one optimizer row is that remainder.
/// </summary>
public static class PretrainProfile
{
    public static IReadOnlyList<PartTime> Run(MaskedAutoencoderConvViT model, Tensor images, int repetitions = 3, Action<string>? progress = null)
    {
        var c = model.Config;
        using var scope = NewDisposeScope();
        images = images.to(model.ComputeDtype);
        long n = images.shape[0];
        using var plan = model.RandomMasking(rand(n, c.NumPatches));
        long lk = plan.NumKept;
        int e2 = c.EmbedDim[2], g = c.GridSize;

        var profiler = new PartProfiler(model, images, repetitions, progress);
        Tensor Part(string name, Tensor input, Func<Tensor, Tensor> f) => profiler.Time(name, input, f);

        Tensor x;
        if (model.UsesSparseStages)
        {
            using var visible = new VisibleBlocks(plan.IdsKeep, g);
            x = Part("patch_embed1", images, t => model.PatchEmbed1.ForwardBlocks(visible.PixelBlocks(t)));   // [N,Lk,4,4,E0]
            for (int i = 0; i < model.Blocks1.Count; i++) { var b = model.Blocks1[i]; x = Part($"blocks1.{i}", x, t => b.ForwardVisible(t, visible)); }
            if (c.MultiScaleFusion) Part("stage1_output_decode", x, t => VisibleBlocks.StridedConv(model.Stage1OutputDecode, t));
            x = Part("patch_embed2", x, t => model.PatchEmbed2.ForwardBlocks(t));                               // [N,Lk,2,2,E1]
            for (int i = 0; i < model.Blocks2.Count; i++) { var b = model.Blocks2[i]; x = Part($"blocks2.{i}", x, t => b.ForwardVisible(t, visible)); }
            if (c.MultiScaleFusion) Part("stage2_output_decode", x, t => VisibleBlocks.StridedConv(model.Stage2OutputDecode, t));
            var pos = model.PosEmbed.expand(n, -1, -1).gather(1, plan.IdsKeep.unsqueeze(-1).expand(-1, -1, e2));   // [N,Lk,E2], as the step
            x = Part("patch_embed3,patch_embed4", x, t => model.PatchEmbed4.call(model.PatchEmbed3.ForwardBlocks(t).view(n, lk, e2)) + pos);   // [N,Lk,E2]
        }
        else
        {
            var (vis1, vis2) = model.StageVisibility(plan);                                                   // [N,1,4g,4g], [N,1,2g,2g]
            x = Part("patch_embed1", images, t => model.PatchEmbed1.call(t));                                   // [N,E0,4g,4g]
            for (int i = 0; i < model.Blocks1.Count; i++) { var b = model.Blocks1[i]; x = Part($"blocks1.{i}", x, t => b.call(t, vis1)); }
            if (c.MultiScaleFusion) Part("stage1_output_decode", x, t => model.Stage1OutputDecode.call(t));
            x = Part("patch_embed2", x, t => model.PatchEmbed2.call(t));                                        // [N,E1,2g,2g]
            for (int i = 0; i < model.Blocks2.Count; i++) { var b = model.Blocks2[i]; x = Part($"blocks2.{i}", x, t => b.call(t, vis2)); }
            if (c.MultiScaleFusion) Part("stage2_output_decode", x, t => model.Stage2OutputDecode.call(t));
            var idx = plan.IdsKeep.unsqueeze(-1).expand(-1, -1, e2);
            x = Part("patch_embed3,patch_embed4", x, t => (model.PatchEmbed4.call(TokenOps.ToTokens(model.PatchEmbed3.call(t))) + model.PosEmbed).gather(1, idx));   // [N,Lk,E2]
        }
        x = Part("blocks3,norm", x, t =>
        {
            foreach (var b in model.Blocks3) t = b.call(t);
            return model.Norm.call(t);
        });
        using var target = randn(n, c.NumPatches, c.PatchDim, dtype: model.ComputeDtype);
        Part("decoder,loss", x,
             t => (model.ForwardDecoder(t, plan.IdsRestore) - target).square().mean().reshape(1));
        return profiler.Rows;
    }

    /// <summary>The optimizer step on its own (forward column; backward 0): the median of --steps runs after one
    /// warm-up, timed as the bench times its steps. Parameters without a gradient (the parts above reset them to none)
    /// get a small random one, so that every parameter is updated, as in a step.</summary>
    public static PartTime Optimizer(Training.IOptimizer optimizer, BenchArgs a, Action<string>? progress = null)
    {
        using (no_grad())
            foreach (var p in optimizer.Parameters)
                p.grad ??= (randn_like(p) * 1e-3).DetachFromDisposeScope();
        var times = Benchmark.TimeSteps(a with { Warmup = 1 }, progress, "profile optimizer", optimizer.Step);
        return new PartTime("optimizer", Math.Round(StepTimes.Of(times).Median, 1), 0);
    }
}
