using ConvMAE.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Video;

/// <summary>
/// The video classifier for finetuning (VideoMAE's VisionTransformer with use_mean_pooling on the VideoConvMAE
/// encoder): clips [N,3,T,S,S] → logits [N,num_classes]. Mean of the final tokens → <c>fc_norm</c> → head (VideoMAE's
/// head init: trunc_normal(.02) then weight and bias × init_scale 0.001), drop path over all blocks, no mask. State keys:
/// pos_embed, patch_embed1..4, blocks1..3, head, fc_norm — the image classifier's, so layer decay and inflation apply.
/// </summary>
public sealed class VideoConvViT : VideoConvViTBase<Tensor>
{
    [ComponentName(Name = "pos_drop")] private readonly Dropout posDrop;
    [ComponentName(Name = "head")] public readonly Linear Head;
    [ComponentName(Name = "fc_norm")] public readonly LayerNorm FcNorm;

    public VideoConvViT(VideoConvMAEConfig config)
        : base(nameof(VideoConvViT), config, learnablePosEmbed: true, config.DropRate, config.AttnDropRate,
               DropPathSchedule(config, config.DropPathRate))
    {
        var c = Config;
        if (c.NumClasses <= 0) throw new ArgumentException($"num_classes={c.NumClasses}: the video classifier needs a head");
        int e2 = c.EmbedDim[2];
        RegisterStem();
        posDrop = nn.Dropout(c.DropRate);
        register_module("pos_drop", posDrop);
        RegisterStages();
        Head = nn.Linear(e2, c.NumClasses);
        register_module("head", Head);
        FcNorm = nn.LayerNorm(e2, eps: c.LayerNormEps);
        register_module("fc_norm", FcNorm);
        // As the image classifier: trunc_normal(.02) on pos_embed and every Linear; then VideoMAE's head scaling.
        Init.TruncNormal(PosEmbed, 0.02);
        Init.LinearsAndNorms(this, w => Init.TruncNormal(w, 0.02));
        using (no_grad()) { Head.weight!.mul_(c.InitScale); Head.bias!.mul_(c.InitScale); }
    }

    /// <summary>Tokens after blocks3 [N,L,E2].</summary>
    public Tensor ForwardTokens(Tensor clips)
    {
        CheckClips(clips);
        using var scope = NewDisposeScope();
        var x = PatchEmbed1.call(ToCompute(clips));               // [N,E0,T',4g,4g]
        x = RunConvStage(Blocks1, x, null);
        x = RunConvStage(Blocks2, PatchEmbed2.call(x), null);     // [N,E1,T',2g,2g]
        x = PatchEmbed3.call(x);                                  // [N,E2,T',g,g]
        x = posDrop.call(PatchEmbed4.call(ToTokens(x)) + PosEmbed);   // [N,L,E2]
        return RunBlocks(Blocks3, x).MoveToOuterDisposeScope();
    }

    /// <summary>Pooled features [N,E2]: fc_norm(mean over all space-time tokens).</summary>
    public Tensor ForwardFeatures(Tensor clips)
    {
        using var scope = NewDisposeScope();
        return FcNorm.call(ForwardTokens(clips).mean([1])).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor clips)
    {
        using var scope = NewDisposeScope();
        var logits = Head.call(ForwardFeatures(clips));
        if (logits.dtype != clips.dtype) logits = logits.to(clips.dtype);
        return logits.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The image baseline the issue asks for: an image ConvMAE classifier applied to every frame, its pooled features
/// averaged over the frames, then its head. By construction it cannot see the order of the frames, so on the embedded
/// motion clips (the class lives only in the motion) it should stay near chance. Keys: the image classifier's.
/// </summary>
public sealed class FrameAveragedConvViT : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "image")] public readonly ConvViT Image;

    public FrameAveragedConvViT(ConvViTConfig imageConfig) : base(nameof(FrameAveragedConvViT))
    {
        Image = new ConvViT(imageConfig with { GlobalPool = true });
        RegisterComponents();
    }

    public override Tensor forward(Tensor clips)   // [N,3,T,S,S] → [N,num_classes]
    {
        if (clips.dim() != 5) throw new ArgumentException($"clips: expected [N,3,T,S,S], got [{string.Join(",", clips.shape)}]");
        using var scope = NewDisposeScope();
        long n = clips.shape[0], t = clips.shape[2];
        var frames = clips.permute(0, 2, 1, 3, 4).reshape(n * t, clips.shape[1], clips.shape[3], clips.shape[4]);   // [N·T,3,S,S]
        var features = Image.ForwardFeatures(frames).view(n, t, -1).mean([1]);                                      // [N,E2]
        var logits = Image.Head.call(features);
        if (logits.dtype != clips.dtype) logits = logits.to(clips.dtype);
        return logits.MoveToOuterDisposeScope();
    }
}
