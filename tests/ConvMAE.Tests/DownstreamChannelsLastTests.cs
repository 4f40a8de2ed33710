using ConvMAE.Detection;
using ConvMAE.Modeling;
using ConvMAE.Segmentation;
using ConvMAE.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>
/// The downstream backbones' channels-last stages 1-2 (<see cref="ConvStages"/>) against their official NCHW form in
/// training, where the parity fixtures (evaluation mode) do not reach: drop path drawing the same per-sample masks, and a
/// non-square input for the segmentation backbone's any-size extension. Outputs and every gradient.
/// </summary>
public class DownstreamChannelsLastTests(ITestOutputHelper output)
{
    // Channel counts off the SIMD width, so the depthwise weight-gradient loop's scalar tail runs.
    static readonly DetBackboneConfig Det = new()
    {
        ImgSize = [64, 16, 8], EmbedDim = [12, 20, 32], Depth = [2, 1, 2], NumHeads = 4, WindowSize = 4, GlobalBlocks = [1],
        DropPathRate = 0.5,
    };

    static readonly SegBackboneConfig Seg = new()
    {
        ImgSize = [96, 24, 12], EmbedDim = [12, 20, 32], Depth = [2, 1, 2], NumHeads = 4, DropPathRate = 0.5, AnyInputSize = true,
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]   // evaluation: libtorch's depthwise convolution as is, no drop path
    public void Detection_backbone_forms_agree(bool training) =>
        Agree((c, dropPath) => new ConvViTDet(Det with { ChannelsLastStages = c, DropPathRate = dropPath }), randn(4, 3, 64, 64), training);

    [Theory]
    [InlineData(64, 96, true)]    // non-square (any_input_size)
    [InlineData(96, 96, true)]
    [InlineData(64, 96, false)]
    public void Segmentation_backbone_forms_agree(int height, int width, bool training) =>
        Agree((c, dropPath) => new ConvMAESegBackbone(Seg with { ChannelsLastStages = c, DropPathRate = dropPath }), randn(4, 3, height, width), training);

    [Fact]
    public void The_flag_reaches_the_backbones_from_the_recipes()
    {
        var det = Recipes.DetectionRecipes.Config(new Recipes.DetectArgs { Model = "mask_rcnn_convmae_cpu", ChannelsLastStages = false }, 3);
        var seg = Recipes.SegmentationRecipes.Config(new Recipes.SegmentArgs { Model = "upernet_convmae_tiny_cpu", InputSize = 128, ChannelsLastStages = false });
        Assert.False(det.Backbone.ChannelsLastStages);
        Assert.False(seg.Backbone.ChannelsLastStages);
        Assert.True(Recipes.DetectionRecipes.Config(new Recipes.DetectArgs { Model = "mask_rcnn_convmae_cpu" }, 3).Backbone.ChannelsLastStages);
    }

    /// <param name="build">(channels-last stages, drop-path rate) → a backbone.</param>
    void Agree(Func<bool, double, nn.Module<Tensor, Tensor[]>> build, Tensor imgs, bool training)
    {
        using var _ = NewDisposeScope();
        manual_seed(3);
        using var fast = build(true, 0.5);
        using var official = build(false, 0.5);
        official.load_state_dict(fast.state_dict());
        fast.train(training);
        official.train(training);

        manual_seed(17);
        var a = fast.call(imgs);
        manual_seed(17);
        var b = official.call(imgs);
        var checks = a.Zip(b, (x, y) => (x, y)).Select((p, i) => Compare.Close($"output {i}", p.x, p.y, 1e-5)).ToList();
        Assert.Equal(b.Length, a.Length);
        Tensor Objective(Tensor[] outs) => outs.Select((t, i) => t.square().mean() * (i + 1)).Aggregate((s, t) => s + t);
        Objective(a).backward();
        Objective(b).backward();
        checks.AddRange(Compare.Gradients(fast, official, 1e-4));
        Compare.AssertAll(output, checks);
        if (training)
        {
            // Drop path did drop something: without it the same weights and seed give other outputs.
            using var noDrop = build(true, 0);
            noDrop.load_state_dict(fast.state_dict());
            noDrop.train();
            manual_seed(17);
            var c = noDrop.call(imgs);
            Assert.Contains(c.Zip(a), p => !p.First.allclose(p.Second, rtol: 0, atol: 1e-4));
        }
    }
}
