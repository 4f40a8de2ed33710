using ConvMAE.Tests.Support;
using ConvMAE.Video;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Video;

/// <summary>
/// The video stages 1-2 on channels-last maps (<see cref="VideoConvMAEConfig.ChannelsLastStages"/>, the default) against
/// the NCDHW Conv3d form: the same logits, loss and gradients, for each temporal kernel and padding.
/// </summary>
public class VideoChannelsLastTests(ITestOutputHelper output)
{
    // Widths that are not multiples of the SIMD width (8 floats), so the weight-gradient kernel's scalar tail runs;
    // 6 frames (T' = 3) so that a 3-tap kernel sees both padded ends and an interior slice, 5 taps reach past both ends.
    static VideoConvMAEConfig Small(int dwKernelT, string padding, double dropPath) => new()
    {
        ImgSize = 32, NumFrames = 6, EmbedDim = [12, 20, 32], Depth = [2, 1, 1], NumHeads = 2,
        DecoderEmbedDim = 16, DecoderDepth = 1, DecoderNumHeads = 2, NumClasses = 5,
        DwKernelT = dwKernelT, TemporalPadding = padding, DropPathRate = dropPath, MaskRatio = 0.75,
    };

    [Theory]
    [InlineData(3, "replicate", 0.0, true)]
    [InlineData(3, "zeros", 0.0, true)]
    [InlineData(1, "replicate", 0.0, true)]
    [InlineData(5, "replicate", 0.0, true)]
    [InlineData(3, "replicate", 0.5, true)]    // drop path: both forms draw the same per-sample masks from the seed
    [InlineData(3, "replicate", 0.0, false)]   // evaluation: libtorch's 2-D convolutions without the autograd function
    public void Classifier_forms_agree_on_logits_and_gradients(int dwKernelT, string padding, double dropPath, bool training)
    {
        using var _ = NewDisposeScope();
        var cfg = Small(dwKernelT, padding, dropPath);
        manual_seed(7);
        using var fast = new VideoConvViT(cfg);
        using var reference = new VideoConvViT(cfg with { ChannelsLastStages = false });
        reference.load_state_dict(fast.state_dict());
        fast.train(training);
        reference.train(training);
        var clips = randn(new long[] { 4, 3, 6, 32, 32 });
        var target = randn(4, 5);
        manual_seed(11);
        var a = fast.call(clips);
        manual_seed(11);
        var b = reference.call(clips);
        var checks = new List<Check> { Compare.Close("logits", a, b, 1e-5) };
        if (training)
        {
            (a - target).square().sum().backward();
            (b - target).square().sum().backward();
            checks.AddRange(CompareGradients(fast, reference));
        }
        Report(checks);
    }

    [Theory]
    [InlineData(3, "replicate")]
    [InlineData(1, "replicate")]
    [InlineData(3, "zeros")]
    public void Pretraining_forms_agree_on_loss_and_gradients_under_a_tube_mask(int dwKernelT, string padding)
    {
        using var _ = NewDisposeScope();
        var cfg = Small(dwKernelT, padding, 0);
        manual_seed(3);
        using var fast = new VideoMaskedAutoencoder(cfg);
        using var reference = new VideoMaskedAutoencoder(cfg with { ChannelsLastStages = false });
        reference.load_state_dict(fast.state_dict());
        var clips = randn(new long[] { 3, 3, 6, 32, 32 });
        using var tube = fast.RandomTubeMask(3, clips.device);
        using var a = fast.Forward(clips, tube);
        using var b = reference.Forward(clips, tube);
        var checks = new List<Check> { Compare.Close("latent", a.Latent, b.Latent, 1e-5), Compare.Close("loss", a.Loss, b.Loss, 1e-6) };
        a.Loss.backward();
        b.Loss.backward();
        checks.AddRange(CompareGradients(fast, reference));
        Report(checks);
    }

    [Fact]
    public void A_block_with_a_visibility_mask_and_drop_path_agrees_sample_by_sample()
    {
        // The mask rows must follow the samples drop path keeps (DropPath.Residual's kept indices).
        using var _ = NewDisposeScope();
        manual_seed(5);
        using var block = new CBlock3D(12, 4.0, 3, replicateTime: true, dropPath: 0.5);
        block.train();
        var x = randn(new long[] { 6, 12, 3, 8, 8 });
        var visible = (rand(new long[] { 6, 1, 1, 8, 8 }) > 0.5).to(float32);
        var x1 = x.detach().requires_grad_(true);
        var x2 = x.detach().requires_grad_(true);
        manual_seed(9);
        var a = block.ForwardChannelsLast(x1.permute(0, 2, 3, 4, 1), visible.reshape(6, 1, 8, 8, 1)).permute(0, 4, 1, 2, 3);
        var gradsA = Gradients(block, a, x1);
        manual_seed(9);
        var b = block.call(x2, visible);
        var gradsB = Gradients(block, b, x2);
        var checks = new List<Check> { Compare.Close("output", a, b, 1e-5) };
        checks.AddRange(gradsA.Zip(gradsB, (g, h) => Compare.Close("grad." + g.Name, g.Grad, h.Grad, 1e-4)));
        Report(checks);
        // Some sample was dropped and some kept, so the kept-rows path ran.
        manual_seed(9);
        using var keep = rand(new long[] { 6, 1, 1, 1, 1 }).add_(0.5).floor_();
        double kept = keep.sum().item<float>();
        Assert.InRange(kept, 1, 5);
    }

    static List<(string Name, Tensor Grad)> Gradients(CBlock3D block, Tensor y, Tensor input)
    {
        block.zero_grad();
        using var weights = linspace(-1, 1, y.numel()).view(y.shape).sin_();   // the same fixed weights for both forms
        (y * weights).sum().backward();
        var list = new List<(string, Tensor)> { ("input", input.grad!.clone()) };
        list.AddRange(block.named_parameters().Select(p => (p.name, p.parameter.grad!.clone())));
        return list;
    }

    static List<Check> CompareGradients(nn.Module fast, nn.Module reference)
    {
        var checks = Compare.Gradients(fast, reference, 1e-4);
        Assert.True(checks.Count > 10, $"only {checks.Count} gradients compared");
        return checks;
    }

    void Report(List<Check> checks)
    {
        Compare.AssertAll(output, checks);
    }
}
