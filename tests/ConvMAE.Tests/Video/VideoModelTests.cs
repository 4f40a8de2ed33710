using ConvMAE.Interop;
using ConvMAE.Modeling;
using ConvMAE.Video;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Video;

/// <summary>VideoConvMAE: tube masking, leakage, the tubelet target, inflation from an image checkpoint, sizes.</summary>
public class VideoModelTests
{
    /// <summary>A small model: 4 frames of 64 px → T' = 2 slices of a 4×4 grid (16 spatial tokens, 32 in all).</summary>
    static VideoConvMAEConfig Small(int dwKernelT = 3, double maskRatio = 0.9, string padding = "replicate") => new()
    {
        ImgSize = 64, NumFrames = 4, EmbedDim = [16, 24, 32], Depth = [1, 1, 1], NumHeads = 2,
        DecoderEmbedDim = 32, DecoderDepth = 1, DecoderNumHeads = 2, NumClasses = 5,
        DwKernelT = dwKernelT, MaskRatio = maskRatio, TemporalPadding = padding,
    };

    [Theory]
    [InlineData(196, 0.9, 20)]     // int(176.4) = 176 removed (VideoMAE), not the image rule's int(19.6) = 19 kept
    [InlineData(196, 0.75, 49)]
    [InlineData(16, 0.9, 2)]       // int(14.4) = 14 removed
    [InlineData(16, 0.75, 4)]
    public void Tube_masking_keeps_VideoMAEs_count_per_slice(int spatial, double ratio, int kept)
    {
        int g = (int)Math.Sqrt(spatial);
        var cfg = new VideoConvMAEConfig { ImgSize = 16 * g, MaskRatio = ratio };
        Assert.Equal(kept, cfg.KeptPerSlice());
    }

    [Fact]
    public void Tube_mask_is_the_same_in_every_slice_and_ids_are_consistent()
    {
        using var _ = NewDisposeScope();
        var (plan, spatial, masked) = TubeMasking.FromNoise(rand(3, 16), timeSlices: 4, keptPerSlice: 2);
        var mask = plan.Mask.view(3, 4, 16);
        for (int t = 0; t < 4; t++) Assert.True(mask[.., t].eq(spatial).all().item<bool>());
        Assert.Equal(new long[] { 3, 8 }, plan.IdsKeep.shape);
        Assert.Equal(new long[] { 3, 56 }, masked.shape);
        // Kept ids point at mask 0, masked ids at mask 1, and ids_restore inverts cat(keep, masked).
        Assert.True(plan.Mask.gather(1, plan.IdsKeep).eq(0).all().item<bool>());
        Assert.True(plan.Mask.gather(1, masked).eq(1).all().item<bool>());
        var all = cat([plan.IdsKeep, masked], 1);
        Assert.True(all.gather(1, plan.IdsRestore).eq(arange(64).expand(3, -1)).all().item<bool>());
        // Time-major: the first two kept ids are slice 0's, the next two slice 1's (the same spatial ids + 16).
        Assert.True((plan.IdsKeep[.., 2..4] - plan.IdsKeep[.., 0..2]).eq(16).all().item<bool>());
    }

    [Theory]
    [InlineData(3, 0.9)]
    [InlineData(3, 0.75)]
    [InlineData(1, 0.9)]
    [InlineData(1, 0.75)]
    public void Masked_tube_pixels_never_reach_a_visible_latent(int dwKernelT, double ratio)
    {
        using var _ = NewDisposeScope();
        manual_seed(3);
        using var model = new VideoMaskedAutoencoder(Small(dwKernelT, ratio));
        var clips = randn(new long[] { 2, 3, 4, 64, 64 });
        using var tube = model.TubeMask(rand(2, 16));
        Assert.True(VideoLeakageCheck.MaxVisibleLatentChange(model, clips, tube) <= 1e-5);
        Assert.True(model.training);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void Without_masked_conv_the_check_finds_the_leak(int dwKernelT)
    {
        using var _ = NewDisposeScope();
        manual_seed(3);
        using var model = new VideoMaskedAutoencoder(Small(dwKernelT) with { MaskedConv = false });
        var clips = randn(new long[] { 2, 3, 4, 64, 64 });
        using var tube = model.TubeMask(rand(2, 16));
        Assert.True(VideoLeakageCheck.MaxVisibleLatentChange(model, clips, tube) > 1e-3);
    }

    [Fact]
    public void Target_orders_each_tubelet_as_time_row_column_channel()
    {
        using var _ = NewDisposeScope();
        using var model = new VideoMaskedAutoencoder(Small() with { NormTarget = false });
        // raw[c,t,y,x] = c + 10·t + 100·y + 10000·x (exact in float32), given to Target ImageNet-normalised as the loader does.
        var c = arange(3, dtype: float64).view(3, 1, 1, 1);
        var t = arange(4, dtype: float64).view(1, 4, 1, 1);
        var y = arange(64, dtype: float64).view(1, 1, 64, 1);
        var x = arange(64, dtype: float64).view(1, 1, 1, 64);
        var raw = (c + 10 * t + 100 * y + 10000 * x).unsqueeze(0);                       // [1,3,4,64,64]
        var mean = tensor(new[] { 0.485, 0.456, 0.406 }, float64).view(1, 3, 1, 1, 1);
        var std = tensor(new[] { 0.229, 0.224, 0.225 }, float64).view(1, 3, 1, 1, 1);
        var target = model.Target(((raw - mean) / std).to(float32)).to(float64);        // [1,32,1536]
        Assert.Equal(new long[] { 1, 32, 2 * 16 * 16 * 3 }, target.shape);
        // token (t'=1, row 2, col 3) = 16 + 2·4 + 3 = 27; value (dt=1, dy=5, dx=7, c=2) at ((1·16+5)·16+7)·3+2.
        double expected = 2 + 10 * (2 * 1 + 1) + 100 * (16 * 2 + 5) + 10000 * (16 * 3 + 7);
        Assert.Equal(expected, target[0, 27, ((1 * 16 + 5) * 16 + 7) * 3 + 2].item<double>(), 0.05 * Math.Max(1, expected * 1e-5));
    }

    [Fact]
    public void Normalised_target_has_zero_mean_and_unit_unbiased_std_per_tubelet_and_channel()
    {
        using var _ = NewDisposeScope();
        using var model = new VideoMaskedAutoencoder(Small());
        var target = model.Target(randn(new long[] { 2, 3, 4, 64, 64 }) * 0.5).view(2, 32, 512, 3);
        Assert.True(target.mean([2]).abs().max().item<float>() < 1e-4);
        var s = target.std(2, unbiased: true);
        Assert.True((s - 1).abs().max().item<float>() < 1e-4);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pretraining_forward_predicts_the_masked_tubelets_and_trains(bool msd)
    {
        using var _ = NewDisposeScope();
        manual_seed(0);
        using var model = new VideoMaskedAutoencoder(Small() with { Msd = msd });
        var clips = randn(new long[] { 2, 3, 4, 64, 64 });
        using var output = model.forward(clips);
        Assert.Equal(new long[] { 2, 2 * 14, 1536 }, output.Pred.shape);   // 14 of 16 spatial tokens masked, 2 slices
        Assert.Equal(new long[] { 2, 2 * 2, 32 }, output.Latent.shape);
        Assert.True(double.IsFinite(output.Loss.item<float>()));
        output.Loss.backward();
        Assert.NotNull(model.Blocks1[0].Attn.weight!.grad);
        if (msd) Assert.True(model.DecoderMsd![0].weight!.grad!.abs().sum().item<float>() > 0);   // zero-init, yet learns
        Assert.Equal(msd, model.state_dict().Keys.Any(k => k.StartsWith("decoder_msd.")));
    }

    /// <summary>An image classifier's checkpoint inflated I3D-style: a still clip gives the image features of its frame.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void Inflated_image_checkpoint_gives_the_image_features_on_a_still_clip(int dwKernelT)
    {
        using var _ = NewDisposeScope();
        using var dir = TestPaths.Temp();
        var videoCfg = Small(dwKernelT) with { DropPathRate = 0 };
        manual_seed(5);
        using var image = new ConvViT(videoCfg.ToImageConfig() with { DropPathRate = 0 });
        image.eval();
        var path = dir.File("image.safetensors");
        Checkpoints.SaveSafetensors(image, path);
        using var video = new VideoConvViT(videoCfg);
        var report = Inflation.LoadPretrained(video, path);
        Assert.Empty(report.Load.Missing);               // head and fc_norm come from the image classifier too
        Assert.Contains(report.Interpolated, k => k.Key == "blocks1.0.attn.weight");
        video.eval();
        var frame = randn(2, 3, 64, 64);
        var clip = frame.unsqueeze(2).expand(-1, -1, 4, -1, -1).contiguous();           // [2,3,4,64,64], 4 identical frames
        using var g = no_grad();
        var expected = image.ForwardFeatures(frame);
        var actual = video.ForwardFeatures(clip);
        Assert.True((expected - actual).abs().max().item<float>() < 2e-5, $"max diff {(expected - actual).abs().max().item<float>()}");
        Assert.True((image.forward(frame) - video.forward(clip)).abs().max().item<float>() < 2e-5);
    }

    [Fact]
    public void Zero_temporal_padding_breaks_the_still_clip_identity_at_the_ends()
    {
        // Why "replicate" is the default: with zero padding the first and last slices see 2 of the 3 temporal taps.
        using var _ = NewDisposeScope();
        using var dir = TestPaths.Temp();
        var videoCfg = Small(3, padding: "zeros") with { DropPathRate = 0 };
        manual_seed(5);
        using var image = new ConvViT(videoCfg.ToImageConfig() with { DropPathRate = 0 });
        var path = dir.File("image.safetensors");
        Checkpoints.SaveSafetensors(image, path);
        using var video = new VideoConvViT(videoCfg);
        Inflation.LoadPretrained(video, path);
        image.eval(); video.eval();
        var frame = randn(1, 3, 64, 64);
        using var g = no_grad();
        var diff = (image.ForwardFeatures(frame) - video.ForwardFeatures(frame.unsqueeze(2).expand(-1, -1, 4, -1, -1).contiguous())).abs().max();
        Assert.True(diff.item<float>() > 1e-3);
    }

    [Fact]
    public void Video_pretraining_checkpoint_loads_into_the_classifier_with_only_the_head_missing()
    {
        using var _ = NewDisposeScope();
        using var dir = TestPaths.Temp();
        var cfg = Small() with { Msd = true };
        using var pre = new VideoMaskedAutoencoder(cfg);
        var path = dir.File("video.safetensors");
        Checkpoints.SaveSafetensors(pre, path);
        using var cls = new VideoConvViT(cfg);
        var report = Inflation.LoadPretrained(cls, path);
        Assert.Equal(new[] { "fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight" }, report.Load.Missing.Order());
        Assert.Empty(report.Load.Unexpected);
        Assert.Contains(report.Dropped, d => d.Key.StartsWith("decoder_msd."));
        Assert.True(cls.PosEmbed.eq(pre.PosEmbed).all().item<bool>());
    }

    /// <summary>
    /// VideoConvMAE-B's classifier with 400 classes: 86,043,408 parameters, worked out from the image ConvViT-B with
    /// 1000 classes (85,374,824) by hand: cube embedding 256·3·2·4·4 (+12,288 over 4×4), 3×5×5 depthwise kernels
    /// (+2·256·50 + 2·384·50 = +64,000 over 5×5), pos_embed 1568·768 (+1,053,696 over 196·768), head 768·400 + 400
    /// (−461,400 against 1000 classes).
    /// </summary>
    [Fact]
    public void Base_classifier_has_about_86M_parameters()
    {
        using var model = new VideoConvViT(VideoConvMAEConfig.Base);
        Assert.Equal(85_374_824L + 12_288 + 64_000 + 1_053_696 - 461_400, model.parameters().Sum(p => p.numel()));
        Assert.Equal(86_043_408L, model.TrainableCount());
    }

    [Fact]
    public void Config_round_trips_through_json_and_names_bad_fields()
    {
        var cfg = VideoConvMAEConfig.TinyCpu with { Msd = true, DwKernelT = 1 };
        Assert.Equal(cfg, VideoConvMAEConfig.FromJson(cfg.ToJson()));
        Assert.Contains("num_frames", Assert.Throws<ArgumentException>(() => (cfg with { NumFrames = 7 }).Validate()).Message);
        Assert.Contains("temporal_padding", Assert.Throws<ArgumentException>(() => (cfg with { TemporalPadding = "circular" }).Validate()).Message);
    }
}
