using System.Text.Json;
using ConvMAE.Interop;
using ConvMAE.Segmentation;
using ConvMAE.Tests.Support;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Segmentation;

/// <summary>Every <c>seg_backbone</c> fixture under the backbone parity folder, built from its config.json alone and
/// checked by <see cref="BackboneParity.Run"/> (official load, outputs feat0..feat3, objective, gradients), in both
/// forms of stages 1-2 (channels-last, the default, and the official NCHW).</summary>
[Trait("Category", "Parity")]
public class SegBackboneParityTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Fixtures() => BackboneParity.FixturesInBothForms("seg_backbone");

    /// <summary>The backbone a fixture's config.json describes (official defaults for everything it does not name).</summary>
    public static SegBackboneConfig ConfigOf(string folder)
    {
        var f = BackboneParity.ConfigOf(folder);
        return new SegBackboneConfig
        {
            ImgSize = [f.Input, f.Input / 4, f.Input / 8], EmbedDim = f.EmbedDim, Depth = f.Depth, NumHeads = f.NumHeads,
            MlpRatio = f.MlpRatio, LayerNormEps = f.LayerNormEps ?? 1e-5,
        }.Validate();
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Seg_backbone_matches_the_official(string fixture, bool channelsLastStages)
    {
        if (fixture.StartsWith('<')) Assert.Fail(fixture);
        var config = ConfigOf(Path.Combine(TestPaths.BackbonesDir, fixture)) with { ChannelsLastStages = channelsLastStages };
        // What the checkpoint lacks keeps its initial value: zero tables, layer scale 1.0 (init_values).
        var checks = BackboneParity.Run(fixture, () => new ConvMAESegBackbone(config), ["feat0", "feat1", "feat2", "feat3"],
            (key, t) => key.EndsWith("relative_position_bias_table") ? zeros_like(t)
                      : key.EndsWith("gamma_1") || key.EndsWith("gamma_2") ? ones_like(t) : null);
        Compare.AssertAll(output, checks, $"fixture '{fixture}'");
    }
}
