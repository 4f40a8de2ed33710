using ConvMAE.Tests.Support;
using ConvMAE.Video;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Video;

/// <summary>
/// Video pretraining's sparse stages 1-2 (<see cref="VideoConvMAEConfig.SparseStages"/>, the default: the visible tubes
/// only) against every position computed: the same latent, predictions, loss and gradients under random tube masks.
/// </summary>
public class VideoSparseStagesTests(ITestOutputHelper output)
{
    // 6 frames (T' = 3: both padded ends and an interior slice), a 3×3 grid, widths off the SIMD width.
    static VideoConvMAEConfig Small(double ratio, int dwKernelT, string padding, bool msd) => new()
    {
        ImgSize = 48, NumFrames = 6, EmbedDim = [12, 20, 32], Depth = [2, 1, 1], NumHeads = 2,
        DecoderEmbedDim = 16, DecoderDepth = 2, DecoderNumHeads = 2, NumClasses = 5,
        DwKernelT = dwKernelT, TemporalPadding = padding, MaskRatio = ratio, Msd = msd,
    };

    [Theory]
    [InlineData(0.5, 3, "replicate", false, true)]
    [InlineData(0.75, 3, "replicate", false, true)]
    [InlineData(0.9, 3, "replicate", false, true)]
    [InlineData(0.75, 1, "replicate", false, true)]
    [InlineData(0.75, 3, "zeros", false, true)]
    [InlineData(0.75, 3, "replicate", true, true)]    // MSD: the decoder also gets the stage-1/2 features
    [InlineData(0.75, 3, "replicate", false, false)]  // against the NCDHW Conv3d form
    public void Sparse_and_dense_stages_agree_on_outputs_loss_and_gradients(double ratio, int dwKernelT, string padding, bool msd, bool channelsLast)
    {
        using var _ = NewDisposeScope();
        var cfg = Small(ratio, dwKernelT, padding, msd);
        manual_seed(21);
        using var sparse = new VideoMaskedAutoencoder(cfg);
        using var dense = new VideoMaskedAutoencoder(cfg with { SparseStages = false, ChannelsLastStages = channelsLast });
        dense.load_state_dict(sparse.state_dict());
        Assert.True(sparse.UsesSparseStages);
        Assert.False(dense.UsesSparseStages);
        if (msd)
            using (no_grad())   // MSD's projections start at zero; make them matter
                foreach (var p in sparse.DecoderMsd!.parameters().Concat(dense.DecoderMsd!.parameters())) { manual_seed(p.numel()); p.normal_(0, 0.1); }

        var clips = randn(new long[] { 3, 3, 6, 48, 48 });
        using var tube = sparse.RandomTubeMask(3, clips.device);
        using var a = sparse.Forward(clips, tube);
        using var b = dense.Forward(clips, tube);
        var checks = new List<Check>
        {
            Compare.Close("latent", a.Latent, b.Latent, 1e-5),
            Compare.Close("pred", a.Pred, b.Pred, 1e-5),
            Compare.Close("loss", a.Loss, b.Loss, 1e-6),
        };
        a.Loss.backward();
        b.Loss.backward();
        var gradients = Compare.Gradients(sparse, dense, 1e-4);
        checks.AddRange(gradients);
        Compare.AssertAll(output, checks);
        Assert.True(gradients.Count > 30, $"only {gradients.Count} gradients compared");
    }

    [Fact]
    public void Without_masked_convolution_every_position_is_computed()
    {
        // Masked positions then reach visible tokens through the depthwise convolution, so the sparse form would be wrong.
        using var model = new VideoMaskedAutoencoder(Small(0.75, 3, "replicate", false) with { MaskedConv = false });
        Assert.False(model.UsesSparseStages);
    }
}
