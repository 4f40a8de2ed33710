using ConvMAE.DataPrep;
using ConvMAE.Env;
using ConvMAE.Training;
using ConvMAE.Tests.Support;
using Xunit;

namespace ConvMAE.Tests.Video;

/// <summary>video pretrain | finetune | eval through the command line on a few generated clips: an exact mid-epoch resume,
/// finetuning from the pretraining checkpoint, the multi-view test, and a corrupt clip skipped (or fatal under --strict).</summary>
[Trait("Category", "Integration")]
public class VideoCliTests
{
    static Proc.Result Run(params string[] args) => KitCli.Run(args);

    static string[] Common(string data) =>
        ["--model", "videoconvmae_tiny_cpu", "--input_size", "32", "--num_frames", "4", "--sampling_rate", "2", "--batch_size", "4",
         "--data_path", Path.Combine(data, "kinetics"), "--threads", "2", "--log_dir", ""];

    static double[] TrainLosses(string run) =>
        MetricsLog.Read(Path.Combine(run, MetricsLog.FileName)).Where(r => r["kind"].GetString() == "train")
                  .Select(r => r["loss"].GetDouble()).ToArray();

    [Fact]
    public void Pretrain_resumes_exactly_mid_epoch_then_finetune_and_the_multi_view_test_run()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("video");
        VideoDemoDataset.Generate(data, new VideoDemoOptions(Seed: 3, TrainPerClass: 2, ValPerClass: 1, Frames: 16, Size: 32));
        string[] pre = ["video", "pretrain", .. Common(data), "--epochs", "2", "--warmup_epochs", "1", "--blr", "1e-2"];

        // 16 clips, batch 4: 4 steps per epoch, 8 in all. Uninterrupted, and stopped at step 3 (mid-epoch) then resumed.
        var whole = dir.File("whole");
        Run([.. pre, "--output_dir", whole]);
        var split = dir.File("split");
        Run([.. pre, "--output_dir", split, "--checkpoint_period", "3", "--max_steps", "3"]);
        Run([.. pre, "--output_dir", split, "--resume", Path.Combine(split, TrainingCheckpoint.FileName)]);
        var a = TrainLosses(whole);
        var b = TrainLosses(split);
        Assert.Equal(8, a.Length);
        Assert.Equal(a, b);                                   // same masks, crops and updates after the resume

        var ft = dir.File("ft");
        Run(["video", "finetune", .. Common(data), "--epochs", "1", "--warmup_epochs", "0", "--output_dir", ft,
             "--finetune", Path.Combine(whole, TrainingCheckpoint.FileName), "--flip", "off"]);
        // The epoch's record carries the single-view validation (VideoMAE's validation mode) of the 8 val clips.
        var epochs = MetricsLog.Read(Path.Combine(ft, MetricsLog.FileName)).Where(r => r["kind"].GetString() == "epoch").ToList();
        Assert.Single(epochs);
        Assert.Equal(0, epochs[0]["acc1"].GetDouble() * 8 / 100 % 1, 6);   // a whole number of the 8 clips

        var test = Run(["video", "eval", .. Common(data), "--resume", Path.Combine(ft, TrainingCheckpoint.FileName),
                        "--test_num_segment", "2", "--test_num_crop", "3"]);
        Assert.Contains("on the 8 test videos (6 views each)", test.Stdout);
        Assert.Contains("moving left to right", test.Stderr);    // the per-class table names the classes
    }

    [Fact]
    public void A_corrupt_clip_is_a_named_skip_and_fatal_under_strict()
    {
        using var dir = TestPaths.Temp();
        var data = dir.File("video");
        VideoDemoDataset.Generate(data, new VideoDemoOptions(Seed: 4, TrainPerClass: 2, ValPerClass: 1, Frames: 16, Size: 32));
        var victim = Directory.GetFiles(Path.Combine(data, "kinetics", "train"), "*.mp4", SearchOption.AllDirectories).Order().First();
        var frames = Path.Combine(Path.GetDirectoryName(victim)!, Path.GetFileNameWithoutExtension(victim));
        if (Directory.Exists(frames)) Directory.Delete(frames, recursive: true);   // read the video itself
        File.WriteAllBytes(victim, File.ReadAllBytes(victim).Take(300).ToArray());  // truncated
        string[] pre = ["video", "pretrain", .. Common(data), "--epochs", "1", "--warmup_epochs", "0", "--output_dir", dir.File("run")];
        var ok = Run(pre);
        Assert.Contains(Path.GetFileName(victim), ok.Stdout + ok.Stderr);
        Assert.Contains("skipped", ok.Stdout + ok.Stderr);
        var strict = KitCli.RunAllowingFailure([.. pre, "--strict", "--output_dir", dir.File("strict")]);
        Assert.NotEqual(0, strict.ExitCode);
        Assert.Contains(Path.GetFileName(victim), strict.Stdout + strict.Stderr);
    }
}
