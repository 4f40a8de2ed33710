using ConvMAE.Modeling;
using ConvMAE.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>
/// The classifier's channels-last stages 1-2 (<see cref="ConvViTConfig.ChannelsLastStages"/>), the written-out
/// depthwise backward they use, and drop-path's skipping of dropped samples, each against the official form.
/// </summary>
public class ChannelsLastStagesTests(ITestOutputHelper output)
{
    // Channel counts that are not multiples of the SIMD width (8 floats), so the kernel's scalar tail runs.
    static ConvViTConfig Small(double dropPath) => new()
    {
        ImgSize = [64, 16, 8], PatchSize = [4, 2, 2], EmbedDim = [12, 20, 32], Depth = [2, 1, 2], NumHeads = 4,
        MlpRatio = [4, 4, 4], NumClasses = 5, DropPathRate = dropPath,
    };

    [Theory]
    [InlineData(0.0, true)]
    [InlineData(0.5, true)]    // drop path in training: both forms draw the same per-sample masks from the same seed
    [InlineData(0.0, false)]   // evaluation: no autograd function, libtorch's convolution as is
    public void Channels_last_and_official_forms_agree_on_logits_and_gradients(double dropPath, bool training)
    {
        using var _ = NewDisposeScope();
        var cfg = Small(dropPath);
        manual_seed(5);
        using var fast = new ConvViT(cfg with { ChannelsLastStages = true });
        using var official = new ConvViT(cfg with { ChannelsLastStages = false });
        official.load_state_dict(fast.state_dict());
        fast.train(training);
        official.train(training);

        var imgs = randn(6, 3, 64, 64);
        var target = randn(6, 5);
        manual_seed(11);
        var a = fast.call(imgs);
        manual_seed(11);
        var b = official.call(imgs);
        var checks = new List<Check> { Compare.Close("logits", a, b, 1e-5) };
        if (training)
        {
            ((a - target).square().sum()).backward();
            ((b - target).square().sum()).backward();
            checks.AddRange(Compare.Gradients(fast, official, 1e-4));
        }
        Compare.AssertAll(output, checks);
        if (dropPath > 0)
        {
            // The masks did drop something: the same model without drop path gives other logits.
            manual_seed(11);
            using var noDrop = new ConvViT(cfg with { DropPathRate = 0 });
            noDrop.load_state_dict(fast.state_dict());
            noDrop.train();
            Assert.False(noDrop.call(imgs).allclose(a, rtol: 0, atol: 1e-4));
        }
    }

    [Theory]
    [InlineData(13, 7, 9, 5)]    // C not a multiple of 8, a non-square map
    [InlineData(16, 3, 2, 5)]    // a map smaller than the kernel: most taps fall outside it
    [InlineData(24, 6, 6, 3)]    // another kernel size
    [InlineData(8, 1, 1, 5)]     // one position: only the centre tap sees data
    public void Written_out_depthwise_backward_matches_libtorch(int c, int h, int w, int k)
    {
        using var _ = NewDisposeScope();
        manual_seed(c + h + k);
        var conv = nn.Conv2d(c, c, k, padding: k / 2, groups: c);
        var x = randn(3, h, w, c);
        var grad = randn(3, h, w, c);

        var xa = x.detach().requires_grad_(true);
        autograd.backward([ChannelsLastDepthwise.Apply(conv, xa)], [grad]);
        var (gx, gw, gb) = (xa.grad!.clone(), conv.weight!.grad!.clone(), conv.bias!.grad!.clone());
        conv.zero_grad();

        var xb = x.permute(0, 3, 1, 2).detach().requires_grad_(true);                              // libtorch's own backward
        autograd.backward([conv.call(xb)], [grad.permute(0, 3, 1, 2)]);
        var checks = new[]
        {
            Compare.Close("input grad", gx, xb.grad!.permute(0, 2, 3, 1), 1e-5),
            Compare.Close("weight grad", gw, conv.weight!.grad!, 1e-5),
            Compare.Close("bias grad", gb, conv.bias!.grad!, 1e-5),
        };
        Compare.AssertAll(output, checks);
    }

    [Fact]
    public void Written_out_depthwise_backward_runs_a_bf16_model_in_float32_sums()
    {
        using var _ = NewDisposeScope();
        manual_seed(4);
        var conv = nn.Conv2d(20, 20, 5, padding: 2, groups: 20);
        var x = randn(2, 9, 9, 20);
        var grad = randn(2, 9, 9, 20);
        var half = nn.Conv2d(20, 20, 5, padding: 2, groups: 20);
        half.load_state_dict(conv.state_dict());
        half.to(bfloat16);

        var xb = x.to(bfloat16).requires_grad_(true);
        autograd.backward([ChannelsLastDepthwise.Apply(half, xb)], [grad.to(bfloat16)]);
        var xf = x.permute(0, 3, 1, 2).detach().requires_grad_(true);                              // float32 reference
        autograd.backward([conv.call(xf)], [grad.permute(0, 3, 1, 2)]);
        Assert.Equal(ScalarType.BFloat16, half.weight!.grad!.dtype);
        var checks = new[]
        {
            Compare.Close("input grad", xb.grad!.to(float32), xf.grad!.permute(0, 2, 3, 1), 2e-2),
            Compare.Close("weight grad", half.weight!.grad!.to(float32), conv.weight!.grad!, 2e-2),
        };
        Compare.AssertAll(output, checks);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.9)]     // most samples dropped
    [InlineData(0.999)]   // every sample dropped: the branch's parameters still get (zero) gradients
    public void Drop_path_residual_equals_the_official_form(double p)
    {
        using var _ = NewDisposeScope();
        manual_seed(7);
        using var dp = new DropPath(p);
        dp.train();
        var lin = nn.Linear(6, 6);
        var x = randn(40, 5, 6);

        var xa = x.detach().requires_grad_(true);
        manual_seed(3);
        var a = dp.Residual(xa, t => lin.call(t).tanh());
        a.square().sum().backward();
        var (gx, gw) = (xa.grad!.clone(), lin.weight!.grad!.clone());
        lin.zero_grad();

        var xb = x.detach().requires_grad_(true);
        manual_seed(3);
        var b = xb + dp.call(lin.call(xb).tanh());                                                  // the official form
        b.square().sum().backward();
        Assert.True(a.allclose(b, rtol: 0, atol: 1e-6), $"outputs differ by {(a - b).abs().max().item<float>()}");
        Assert.True(gx.allclose(xb.grad!, rtol: 0, atol: 1e-5));
        Assert.True(gw.allclose(lin.weight!.grad!, rtol: 1e-5, atol: 1e-5));
        long kept = (a - x).abs().flatten(1).sum(1).gt(0).sum().item<long>();                    // samples whose branch was added
        if (p > 0.99) Assert.Equal(0L, kept);
        else Assert.InRange(kept, 1L, 39L);                                                          // some kept, some dropped
        Assert.Equal(kept > 0, gw.abs().max().item<float>() > 0);
    }
}
