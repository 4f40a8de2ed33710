using ConvMAE.Data.Video;
using Xunit;

namespace ConvMAE.Tests.Data.Video;

/// <summary>The dataset layouts (official Kinetics CSV, VideoMAE list files, SSv2 JSON), header sniffing, class
/// indices, and every bad row as a counted, named skip (or an exception under strict).</summary>
public class VideoIndexTests
{
    // The readers only check that a video exists; its content is not read here.
    static void Touch(string path) { Directory.CreateDirectory(Path.GetDirectoryName(path)!); File.WriteAllBytes(path, [0]); }

    static string KineticsFolder(TestPaths.TempDir dir)
    {
        File.WriteAllLines(dir.File("train.csv"),
        [
            "label,youtube_id,time_start,time_end,split",
            "moving left to right,a1B2c3D4e5F,0,1,train",
            "bouncing,Zz_9-8y7X6w,12,22,train",
            "\"moving left to right\",q-w_e1r2t3y,5,10,train",
        ]);
        Touch(dir.File("train/moving left to right/a1B2c3D4e5F_000000_000001.mp4"));
        Touch(dir.File("train/bouncing/Zz_9-8y7X6w_000012_000022.mp4"));
        Touch(dir.File("train/moving_left_to_right/q-w_e1r2t3y_000005_000010.mp4"));   // underscores accepted
        return dir.Path;
    }

    [Fact]
    public void Official_Kinetics_csv_maps_rows_to_zero_padded_videos_and_sorted_classes()
    {
        using var dir = TestPaths.Temp();
        var index = VideoDatasets.Open("Kinetics-400", KineticsFolder(dir), "train");
        Assert.Equal(["bouncing", "moving left to right"], index.ClassNames);
        Assert.Equal(0, index.Skipped);
        Assert.Empty(index.Warnings);
        Assert.Equal(["a1B2c3D4e5F_000000_000001", "Zz_9-8y7X6w_000012_000022", "q-w_e1r2t3y_000005_000010"], index.Entries.Select(e => e.Id));
        Assert.Equal([1, 0, 1], index.Entries.Select(e => e.Label));
        Assert.EndsWith(Path.Combine("train", "moving_left_to_right", "q-w_e1r2t3y_000005_000010.mp4"), index.Entries[2].Path);

        // classes.txt fixes the order instead.
        File.WriteAllLines(dir.File("classes.txt"), ["moving left to right", "bouncing"]);
        Assert.Equal([0, 1, 0], VideoDatasets.Open("Kinetics-400", dir.Path, "train").Entries.Select(e => e.Label));

        // test reads val.csv (the same format as train.csv) before a lists/test.csv, which numbers classes its own way.
        File.Copy(dir.File("train.csv"), dir.File("val.csv"));
        Directory.CreateDirectory(dir.File("lists"));
        File.WriteAllLines(dir.File("lists/test.csv"), ["../train/bouncing/Zz_9-8y7X6w_000012_000022.mp4 7"]);
        var test = VideoDatasets.Open("Kinetics-400", dir.Path, "test");
        Assert.Equal(dir.File("val.csv"), test.Source);
        Assert.Equal(["moving left to right", "bouncing"], test.ClassNames);
    }

    [Fact]
    public void The_header_tells_an_official_csv_from_a_list_file()
    {
        Assert.True(KineticsIndex.IsOfficialCsv("label,youtube_id,time_start,time_end,split"));
        Assert.True(KineticsIndex.IsOfficialCsv("\uFEFFyoutube_id,time_start,time_end,split"));   // test CSV: no label
        Assert.False(KineticsIndex.IsOfficialCsv("train/a.mp4 3"));
        Assert.False(KineticsIndex.IsOfficialCsv("label,path"));
    }

    [Fact]
    public void VideoMAE_list_files_are_read_relative_to_their_folder_by_file_or_folder()
    {
        using var dir = TestPaths.Temp();
        Touch(dir.File("videos/a.mp4"));
        Touch(dir.File("videos/b.mp4"));
        Directory.CreateDirectory(dir.File("lists"));
        Touch(dir.File("videos/moving left to right/c.mp4"));
        File.WriteAllLines(dir.File("lists/train.csv"),
            ["../videos/a.mp4 2", $"{dir.File("videos/b.mp4")} 0", "", "../videos/moving left to right/c.mp4 1", "../videos/a.mp4 300 1"]);
        var viaFile = VideoDatasets.Open("Kinetics-400", dir.File("lists/train.csv"), "train");
        Assert.Empty(viaFile.Warnings);
        Assert.Equal([2, 0, 1, 1], viaFile.Entries.Select(e => e.Label));
        Assert.Equal(dir.File("videos/a.mp4"), viaFile.Entries[0].Path);
        Assert.Equal(dir.File("videos/moving left to right/c.mp4"), viaFile.Entries[2].Path);   // spaces in the path
        Assert.Equal(dir.File("videos/a.mp4"), viaFile.Entries[3].Path);                        // 'path duration label'
        File.WriteAllLines(dir.File("lists/train.csv"), ["../videos/a.mp4 2", $"{dir.File("videos/b.mp4")} 0"]);
        viaFile = VideoDatasets.Open("Kinetics-400", dir.File("lists/train.csv"), "train");
        Assert.Equal(["class 0", "class 1", "class 2"], viaFile.ClassNames);
        var viaFolder = VideoDatasets.Open("Kinetics-400", dir.Path, "train");     // finds lists/train.csv
        Assert.Equal(viaFile.Entries, viaFolder.Entries);
        // test falls back to val; a missing index says what was looked for.
        File.Copy(dir.File("lists/train.csv"), dir.File("lists/val.csv"));
        Assert.Equal(2, VideoDatasets.Open("Kinetics-400", dir.Path, "test").Count);
        var e = Assert.Throws<VideoDataException>(() => VideoDatasets.Open("Kinetics-400", dir.File("videos"), "train"));
        Assert.Contains("train.csv", e.Message);
    }

    static string SsV2Folder(TestPaths.TempDir dir, string labelsName = "something-something-v2-labels.json")
    {
        File.WriteAllText(dir.File(labelsName),
            """{"Moving something from left to right": "0", "Putting something onto something": "1"}""");
        File.WriteAllText(dir.File("something-something-v2-train.json"), """
            [{"id":"12","label":"moving a cup from left to right","template":"Moving [something] from left to right","placeholders":["a cup"]},
             {"id":"7","label":"putting a pen onto a book","template":"Putting [something] onto [something]","placeholders":["a pen","a book"]},
             {"id":"99","label":"x","template":"Spinning [something] that quickly stops spinning","placeholders":["x"]},
             {"id":"40","label":"y","template":"Moving [something] from left to right","placeholders":["y"]},
             {"label":"no id","template":"Moving [something] from left to right"}]
            """);
        Touch(dir.File("20bn-something-something-v2/12.webm"));
        Touch(dir.File("7.webm"));                                  // <root>/<id>.webm accepted
        return dir.Path;
    }

    [Fact]
    public void SSv2_json_maps_templates_to_label_indices_and_counts_bad_entries()
    {
        using var dir = TestPaths.Temp();
        var index = VideoDatasets.Open("SSV2", SsV2Folder(dir, "labels.json"), "train");
        Assert.Equal(["Moving something from left to right", "Putting something onto something"], index.ClassNames);
        Assert.Equal(["12", "7"], index.Entries.Select(e => e.Id));
        Assert.Equal([0, 1], index.Entries.Select(e => e.Label));
        Assert.Equal(3, index.Skipped);
        Assert.Contains(index.Warnings, w => w.Contains("something-something-v2-train.json: id 99: unknown label \"Spinning something that quickly stops spinning\""));
        Assert.Contains(index.Warnings, w => w.Contains("id 40: video not found") && w.Contains("40.webm"));
        Assert.Contains(index.Warnings, w => w.Contains("entry 4: malformed entry"));
        var strict = Assert.Throws<VideoDataException>(() => VideoDatasets.Open("SSV2", dir.Path, "train", strict: true));
        Assert.Contains("id 99: unknown label", strict.Message);
        Assert.Throws<VideoDataException>(() => VideoDatasets.Open("SSV2", dir.Path, "val"));   // no validation json
    }

    [Fact]
    public void Unknown_labels_missing_videos_and_malformed_rows_are_counted_named_skips_or_strict_errors()
    {
        using var dir = TestPaths.Temp();
        KineticsFolder(dir);
        File.WriteAllLines(dir.File("val.csv"),
        [
            "label,youtube_id,time_start,time_end,split",
            "bouncing,Zz_9-8y7X6w,12,22,train",                 // ok (video found under the row's split folder)
            "juggling,AAAAAAAAAAA,0,10,val",                    // line 3: not a training class
            "bouncing,BBBBBBBBBBB,0,10,val",                    // line 4: no video
            "bouncing,CCCCCCCCCCC,zero,10,val",                 // line 5: malformed time
            "bouncing,DDD",                                     // line 6: too few fields
        ]);
        var index = VideoDatasets.Open("Kinetics-400", dir.Path, "val");
        Assert.Single(index.Entries);
        Assert.Equal(4, index.Skipped);
        var csv = dir.File("val.csv");
        Assert.Contains($"{csv}:3: clip AAAAAAAAAAA_000000_000010: unknown label 'juggling'; skipped", index.Warnings);
        Assert.Contains(index.Warnings, w => w.StartsWith($"{csv}:4: clip BBBBBBBBBBB_000000_000010: video not found") && w.Contains("BBBBBBBBBBB_000000_000010.mp4"));
        Assert.Contains(index.Warnings, w => w.StartsWith($"{csv}:5: malformed row"));
        Assert.Contains(index.Warnings, w => w.StartsWith($"{csv}:6: malformed row"));
        var e = Assert.Throws<VideoDataException>(() => VideoDatasets.Open("Kinetics-400", dir.Path, "val", strict: true));
        Assert.StartsWith($"{csv}:3: clip AAAAAAAAAAA_000000_000010: unknown label 'juggling'", e.Message);

        // The list-file reader names its rows the same way.
        Touch(dir.File("v/a.mp4"));
        File.WriteAllLines(dir.File("list.txt"), ["v/a.mp4 1", "v/missing.mp4 0", "v/a.mp4", "v/a.mp4 x", "v/a.mp4 -1"]);
        var list = KineticsIndex.Open(dir.File("list.txt"), "train", strict: false);
        Assert.Single(list.Entries);
        Assert.Equal(4, list.Skipped);
        Assert.Contains(list.Warnings, w => w.StartsWith($"{dir.File("list.txt")}:2: video not found: {dir.File("v/missing.mp4")}"));
        Assert.Contains(list.Warnings, w => w.StartsWith($"{dir.File("list.txt")}:3: malformed row 'v/a.mp4'"));
        Assert.Contains(list.Warnings, w => w.StartsWith($"{dir.File("list.txt")}:4: malformed row 'v/a.mp4 x'"));
        Assert.Contains(list.Warnings, w => w.StartsWith($"{dir.File("list.txt")}:5: v/a.mp4: unknown label -1"));
        Assert.Throws<VideoDataException>(() => KineticsIndex.Open(dir.File("list.txt"), "train", strict: true));
    }
}
