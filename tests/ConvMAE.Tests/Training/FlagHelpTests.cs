using ConvMAE.Cli;
using ConvMAE.Recipes;
using Xunit;

namespace ConvMAE.Tests.Training;

/// <summary>Each command's --help describes its own presets and dataset layout, not the image recipes' shared text.</summary>
public class FlagHelpTests
{
    static string Line(string help, string flag) =>
        help.Split('\n').Single(l => l.TrimStart().StartsWith($"--{flag} "));

    [Fact]
    public void Video_segment_and_detect_help_name_their_own_presets_and_layouts()
    {
        var video = Flags.Help<VideoFinetuneArgs>("video finetune", "");
        // The help text is a literal (attribute arguments are constants): every registered video preset must be in it.
        foreach (var preset in ConvMAE.Video.VideoConvMAEConfig.Presets.Keys) Assert.Contains(preset, Line(video, "model"));
        Assert.Contains("[default: videoconvmae_base]", Line(video, "model"));
        Assert.Contains("Kinetics-400", Line(video, "data_path"));
        Assert.DoesNotContain("ImageNet", video);
        Assert.Contains("clips per step", Line(Flags.Help<VideoPretrainArgs>("video pretrain", ""), "batch_size"));

        var segment = Flags.Help<SegmentArgs>("segment train", "");
        Assert.Contains("upernet_convmae_tiny_cpu", Line(segment, "model"));
        Assert.Contains("annotations/{training,validation}", Line(segment, "data_path"));

        var detect = Flags.Help<DetectArgs>("detect train", "");
        Assert.Contains("mask_rcnn_convmae_cpu", Line(detect, "model"));
        Assert.Contains("instances_{train,val}2017.json", Line(detect, "data_path"));

        // The image recipes keep the shared text.
        var pretrain = Flags.Help<PretrainArgs>("pretrain", "");
        Assert.Contains("convmae_tiny_cpu", Line(pretrain, "model"));
        Assert.Contains("ImageNet-layout", Line(pretrain, "data_path"));
    }
}
