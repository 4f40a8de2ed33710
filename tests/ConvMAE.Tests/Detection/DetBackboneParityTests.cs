using ConvMAE.Detection;
using ConvMAE.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Detection;

/// <summary>Every <c>det_backbone</c> fixture under the backbone parity folder (recorded from the official ConvViTDet),
/// built from its config.json alone and checked by <see cref="BackboneParity.Run"/>: the official load (pos_embed
/// resized, both relative-position tables absent from the checkpoint and zero), outputs s0..s3, objective, gradients
/// (including both shared tables). Both forms of stages 1-2 are checked: channels-last (the default) and the official NCHW.</summary>
[Trait("Category", "Parity")]
public class DetBackboneParityTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Fixtures() => BackboneParity.FixturesInBothForms("det_backbone");

    public static DetBackboneConfig ConfigOf(string folder)
    {
        var f = BackboneParity.ConfigOf(folder);
        return new DetBackboneConfig
        {
            ImgSize = [f.Input, f.Input / 4, f.Input / 8], EmbedDim = f.EmbedDim, Depth = f.Depth, NumHeads = f.NumHeads,
            MlpRatio = f.MlpRatio, LayerNormEps = f.LayerNormEps ?? 1e-6, WindowSize = f.WindowSize ?? 16,
        }.Validate();
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Det_backbone_matches_the_official(string fixture, bool channelsLastStages)
    {
        if (fixture.StartsWith('<')) Assert.Fail(fixture);
        var config = ConfigOf(Path.Combine(TestPaths.BackbonesDir, fixture)) with { ChannelsLastStages = channelsLastStages };
        var checks = BackboneParity.Run(fixture, () => new ConvViTDet(config), ["s0", "s1", "s2", "s3"],
            (key, t) => key.EndsWith("relative_position_bias_table") ? zeros_like(t) : null);
        // pos_embed is frozen (sincos_pos_embed=True): no gradient, as officially.
        using (var m = new ConvViTDet(config))
            checks.Add(new(!m.PosEmbed.requires_grad, "pos_embed frozen"));
        Compare.AssertAll(output, checks, $"fixture '{fixture}'");
    }
}
