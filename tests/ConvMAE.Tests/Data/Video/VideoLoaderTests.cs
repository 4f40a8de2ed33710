using ConvMAE.Data;
using ConvMAE.Data.Video;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Data.Video;

/// <summary>The loaders end to end on tiny H.264 clips (frame i is grey 8·i): multi-view placement in the host batch,
/// the tensor layout, determinism and mid-epoch resume, and bad videos as counted skips or strict failures.</summary>
public class VideoLoaderTests
{
    /// <summary>Some (default six) 16-frame 32×24 clips in a VideoMAE list file (labels 0..2).</summary>
    static string ListDataset(TestPaths.TempDir dir, int clips = 6)
    {
        var lines = new List<string>();
        for (int i = 0; i < clips; i++)
        {
            TestVideos.Write(dir.File($"videos/c{i}.mp4"), frames: 16);
            lines.Add($"videos/c{i}.mp4 {i % 3}");
        }
        File.WriteAllLines(dir.File("train.csv"), lines);
        File.WriteAllLines(dir.File("val.csv"), lines);
        return dir.Path;
    }

    static LoaderOptions Options(int workers = 2, bool shuffle = true, bool strict = false) =>
        new(BatchSize: 2, Shuffle: shuffle, DropLast: false, Seed: 3, Workers: workers, Strict: strict);

    [Fact]
    public void Multi_view_eval_packs_temporal_then_spatial_views_per_sample()
    {
        using var dir = TestPaths.Temp();
        var root = ListDataset(dir, clips: 3);
        var loader = VideoLoader.Eval("Kinetics-400", root, "test", numFrames: 4, samplingRate: 2, inputSize: 16,
                                      Options(shuffle: false), testNumSegment: 2, testNumCrop: 2);
        Assert.Equal(4, loader.Source.Views);
        var batches = loader.Epoch(0).ToList();
        Assert.Equal(2, batches.Count);
        var h = batches[0];
        Assert.Equal((2, 4, 4, 16), (h.Count, h.Views, h.Frames, h.Size));
        Assert.Equal(2 * 4 * 4 * 16 * 16 * 3, h.Pixels.Length);
        Assert.Equal([0L, 1L], h.Labels);
        // 16 frames at rate 2 → 0, 2, ..., 14; windows of 4 start at 0 and 4: frames 0 2 4 6 and 8 10 12 14.
        double Grey(int sample, int view, int frame)
        {
            int s = 16 * 16 * 3, at = ((sample * 4 + view) * 4 + frame) * s;
            return h.Pixels.Skip(at).Take(s).Where((_, i) => i % 3 == 0).Average(b => (double)b);
        }
        int[][] expected = [[0, 2, 4, 6], [0, 2, 4, 6], [8, 10, 12, 14], [8, 10, 12, 14]];   // view = temporal·2 + spatial
        for (int sample = 0; sample < 2; sample++)
            for (int v = 0; v < 4; v++)
                for (int f = 0; f < 4; f++)
                    Assert.InRange(Grey(sample, v, f), TestVideos.Grey(expected[v][f]) - 4, TestVideos.Grey(expected[v][f]) + 4);

        using var scope = NewDisposeScope();
        using var batch = VideoBatch.FromHost(h);
        Assert.Equal([8L, 3, 4, 16, 16], batch.Clips.shape);
        Assert.Equal([2L], batch.Labels.shape);
        float grey64 = batch.Clips[2, 0, 0, 5, 5].item<float>();                        // view 2, frame 0 = frame 8
        Assert.Equal((64 / 255f - 0.485f) / 0.229f, grey64, 1);
    }

    [Fact]
    public void Same_seed_same_batches_whatever_the_workers_and_a_resumed_epoch_matches()
    {
        using var dir = TestPaths.Temp();
        var root = ListDataset(dir, clips: 4);
        foreach (var make in new Func<int, VideoLoader>[]
        {
            w => VideoLoader.Pretrain("Kinetics-400", root, "train", 4, 2, 16, Options(w)),
            w => VideoLoader.Finetune("Kinetics-400", root, "train", 4, 2, 16, Options(w)),
        })
        {
            var one = make(1).Epoch(1).ToList();
            var two = make(2).Epoch(1).ToList();
            Assert.Equal(2, one.Count);
            for (int b = 0; b < 2; b++)
            {
                Assert.Equal(one[b].Pixels, two[b].Pixels);
                Assert.Equal(one[b].SampleIndices, two[b].SampleIndices);
                Assert.Equal(one[b].Labels, two[b].Labels);
            }
            var resumed = make(2).Epoch(1, startBatch: 1).ToList();
            Assert.Single(resumed);
            Assert.Equal(one[1].Pixels, resumed[0].Pixels);
            Assert.Equal(one[1].SampleIndices, resumed[0].SampleIndices);
            Assert.Equal(Enumerable.Range(0, 4), one.SelectMany(b => b.SampleIndices).Order());
            Assert.NotEqual(one.SelectMany(b => b.SampleIndices), make(1).Epoch(2).SelectMany(b => b.SampleIndices));
            Assert.Equal((1, 4, 16), (one[0].Views, one[0].Frames, one[0].Size));
        }
    }

    [Fact]
    public void A_corrupt_video_is_skipped_with_a_counted_warning_naming_it_unless_strict()
    {
        using var dir = TestPaths.Temp();
        var root = ListDataset(dir, clips: 4);
        var bad = dir.File("videos/c2.mp4");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..200]);
        var loader = VideoLoader.Pretrain("Kinetics-400", root, "train", 4, 2, 16, Options(shuffle: false));
        var batches = loader.Epoch(0).ToList();
        Assert.Equal([0, 1, 3], batches.SelectMany(b => b.SampleIndices));
        Assert.Equal(1, batches[1].Count);
        Assert.Equal(1, loader.SkippedSamples);
        Assert.Contains(loader.DrainWarnings(), w => w.StartsWith("skipped ") && w.Contains(bad));
        var strict = VideoLoader.Pretrain("Kinetics-400", root, "train", 4, 2, 16, Options(shuffle: false, strict: true));
        var e = Assert.Throws<BadVideoException>(() => strict.Epoch(0).ToList());
        Assert.Contains(bad, e.Message);
    }

    [Fact]
    public void SSv2_eval_reads_webm_segment_starts_then_centres_without_flip_in_finetuning()
    {
        using var dir = TestPaths.Temp();
        File.WriteAllText(dir.File("something-something-v2-labels.json"), """{"Moving something from left to right": "0", "Moving something from right to left": "1"}""");
        var json = """
            [{"id":"1","label":"a","template":"Moving [something] from right to left","placeholders":["a"]},
             {"id":"2","label":"b","template":"Moving [something] from left to right","placeholders":["b"]}]
            """;
        File.WriteAllText(dir.File("something-something-v2-validation.json"), json);
        File.WriteAllText(dir.File("something-something-v2-train.json"), json);
        foreach (var id in new[] { "1", "2" }) TestVideos.Write(dir.File($"20bn-something-something-v2/{id}.webm"), frames: 16);
        var loader = VideoLoader.Eval("SSV2", dir.Path, "val", numFrames: 4, samplingRate: 2, inputSize: 16, Options(shuffle: false),
                                      testNumSegment: 2, testNumCrop: 1);
        var h = Assert.Single(loader.Epoch(0));
        Assert.Equal((2, 2, 4), (h.Count, h.Views, h.Frames));
        Assert.Equal([1L, 0L], h.Labels);
        // tick = 16/4 = 4: view 0 reads 0 4 8 12 (segment starts), view 1 reads 2 6 10 14 (centres).
        int s = 16 * 16 * 3;
        int[][] expected = [[0, 4, 8, 12], [2, 6, 10, 14]];
        for (int v = 0; v < 2; v++)
            for (int f = 0; f < 4; f++)
            {
                double grey = h.Pixels.Skip(((1 * 2 + v) * 4 + f) * s).Take(s).Where((_, i) => i % 3 == 0).Average(b => (double)b);
                Assert.InRange(grey, TestVideos.Grey(expected[v][f]) - 4, TestVideos.Grey(expected[v][f]) + 4);
            }
        var finetune = VideoLoader.Finetune("SSV2", dir.Path, "train", 4, 2, 16, Options());
        Assert.False(((FinetuneClipTransform)finetune.Source.Transform).Flip);
        Assert.IsType<SsV2FrameSampler>(finetune.Source.Sampler);

        // num_sample 2: one decoded clip, two independent augmentations as views, one label per sample.
        var repeated = VideoLoader.Finetune("SSV2", dir.Path, "train", 4, 2, 16, Options(shuffle: false), numSample: 2);
        var r = Assert.Single(repeated.Epoch(0));
        Assert.Equal((2, 2), (r.Count, r.Views));
        Assert.Equal(2, r.Labels.Length);
        int clip = 4 * s;
        Assert.False(r.Pixels.AsSpan(0, clip).SequenceEqual(r.Pixels.AsSpan(clip, clip)));
    }
}
