using Xunit;
using ConvMAE.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Interop;

/// <summary>Every bad input gives one CheckpointException with a one-line message naming the file and the problem.</summary>
public class CheckpointErrorTests
{
    private static string AnyParity(string file) =>
        Path.Combine(InteropFixtures.Folders(InteropFixtures.ParityDir).First(d => InteropFixtures.Config(d).GetProperty("kind").GetString() == "classifier"), file);

    private static CheckpointException ReadFails(string path, CheckpointError kind)
    {
        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Read(path));
        Assert.Equal(kind, ex.Kind);
        TensorAssert.OneLineNaming(ex, path);
        return ex;
    }

    // ------------------------------------------------------------------ files that are not (whole) checkpoints

    [Fact]
    public void Missing_file()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var ex = ReadFails(tmp.File("nope.pth"), CheckpointError.FileNotFound);
        Assert.Contains("not found", ex.Message);
        var ex2 = Assert.Throws<CheckpointException>(() => Checkpoints.Load(ShapeModule.Build(new StateDict()), tmp.File("nope.pth")));
        Assert.Equal(CheckpointError.FileNotFound, ex2.Kind);
    }

    [Fact]
    public void Zero_byte_file()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        File.WriteAllBytes(tmp.File("empty.pth"), []);
        Assert.Contains("empty file (0 bytes)", ReadFails(tmp.File("empty.pth"), CheckpointError.EmptyFile).Message);
    }

    [Fact]
    public void Png_image()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        // PNG signature + the start of an IHDR chunk
        File.WriteAllBytes(tmp.File("cat.pth"), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1]);
        Assert.Contains("not a checkpoint (a PNG image)", ReadFails(tmp.File("cat.pth"), CheckpointError.UnknownFormat).Message);
    }

    [Fact]
    public void Text_file()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        File.WriteAllText(tmp.File("notes.safetensors"), "epoch 1: loss 0.5\nepoch 2: loss 0.4\n");
        var ex = ReadFails(tmp.File("notes.safetensors"), CheckpointError.UnknownFormat);
        Assert.Contains("not a checkpoint (a text file starting \"epoch 1: loss 0.", ex.Message);
    }

    [Fact]
    public void Legacy_pickle_is_refused_with_advice()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        // What torch.save(..., _use_new_zipfile_serialization=False) starts with: PROTO 2, then the magic number.
        File.WriteAllBytes(tmp.File("old.pth"), [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        Assert.Contains("PyTorch >= 1.6", ReadFails(tmp.File("old.pth"), CheckpointError.UnsupportedFormat).Message);
    }

    [Fact]
    public void Truncated_pth()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var bytes = File.ReadAllBytes(AnyParity("checkpoint.pth"));
        File.WriteAllBytes(tmp.File("cut.pth"), bytes[..(bytes.Length / 2)]);
        Assert.Contains("truncated", ReadFails(tmp.File("cut.pth"), CheckpointError.Truncated).Message);
    }

    [Fact]
    public void Truncated_safetensors_names_the_first_tensor_cut_off()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var bytes = File.ReadAllBytes(AnyParity("model.safetensors"));
        File.WriteAllBytes(tmp.File("cut.safetensors"), bytes[..(bytes.Length * 3 / 5)]);
        var ex = ReadFails(tmp.File("cut.safetensors"), CheckpointError.Truncated);
        Assert.NotNull(ex.Key);
        Assert.Contains($"tensor {ex.Key} needs bytes", ex.Message);
    }

    [Fact]
    public void Safetensors_cut_inside_its_header()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var bytes = File.ReadAllBytes(AnyParity("model.safetensors"));
        File.WriteAllBytes(tmp.File("cut.safetensors"), bytes[..200]);
        Assert.Contains("the header declares", ReadFails(tmp.File("cut.safetensors"), CheckpointError.Truncated).Message);
    }

    [Fact]
    public void Safetensors_header_inconsistent_with_dtype_and_shape()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var header = """{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"""u8.ToArray();
        var file = BitConverter.GetBytes((ulong)header.Length).Concat(header).Concat(new byte[20]).ToArray();
        File.WriteAllBytes(tmp.File("bad.safetensors"), file);
        var ex = ReadFails(tmp.File("bad.safetensors"), CheckpointError.Corrupt);
        Assert.Contains("tensor w spans 20 bytes, but F32 [2,3] needs 24", ex.Message);
    }

    [Fact]
    public void Zip_that_is_not_a_torch_checkpoint()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        using (var z = System.IO.Compression.ZipFile.Open(tmp.File("x.pth"), System.IO.Compression.ZipArchiveMode.Create))
            using (var w = new StreamWriter(z.CreateEntry("readme.txt").Open())) w.Write("hello");
        Assert.Contains("without data.pkl", ReadFails(tmp.File("x.pth"), CheckpointError.UnknownFormat).Message);
    }

    // ------------------------------------------------------------------ loading into a module

    /// <summary>A zero-initialised module with the classifier fixture's keys, some shapes/keys changed.</summary>
    private static ShapeModule ClassifierLike(StateDict ck, Func<string, long[], long[]?>? reshape = null,
                                              IEnumerable<(string, long[])>? extra = null, ISet<string>? drop = null)
    {
        var entries = ck.Where(kv => drop is null || !drop.Contains(kv.Key))
                        .Select(kv => (kv.Key, reshape?.Invoke(kv.Key, kv.Value.shape) ?? kv.Value.shape, kv.Value.dtype))
                        .Concat((extra ?? []).Select(e => (e.Item1, e.Item2, ScalarType.Float32)));
        return ShapeModule.Build(entries);
    }

    private static void AssertAllZero(nn.Module m)
    {
        foreach (var (k, t) in m.state_dict())
            Assert.True(t.count_nonzero().item<long>() == 0, $"{k} was modified");
    }

    [Fact]
    public void Shape_mismatch_names_key_and_both_shapes_and_copies_nothing()
    {
        var path = AnyParity("checkpoint.pth");
        using var ck = Checkpoints.ReadStateDict(path);
        var ckShape = ck["blocks3.0.attn.qkv.weight"].shape;                     // [3D, D]
        using var m = ClassifierLike(ck, (k, s) => k == "blocks3.0.attn.qkv.weight" ? [s[0] + 3, s[1] + 1] : null);

        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Load(m, path));
        Assert.Equal(CheckpointError.KeyMismatch, ex.Kind);
        Assert.Equal(
            $"{path}: shape mismatch for blocks3.0.attn.qkv.weight: checkpoint [{ckShape[0]},{ckShape[1]}], model [{ckShape[0] + 3},{ckShape[1] + 1}]",
            ex.Message);
        Assert.Equal("blocks3.0.attn.qkv.weight", ex.Key);
        AssertAllZero(m);
    }

    [Fact]
    public void Missing_key_names_it_and_copies_nothing()
    {
        var path = AnyParity("checkpoint.pth");
        using var ck = Checkpoints.ReadStateDict(path);
        using var m = ClassifierLike(ck, extra: [("extra_proj.weight", [4, 4])]);
        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Load(m, path));
        Assert.Equal($"{path}: missing key extra_proj.weight", ex.Message);
        Assert.Equal(["extra_proj.weight"], ex.Report!.Missing);
        AssertAllZero(m);
    }

    [Fact]
    public void Unexpected_key_names_it_and_copies_nothing()
    {
        var path = AnyParity("checkpoint.pth");
        using var ck = Checkpoints.ReadStateDict(path);
        using var m = ClassifierLike(ck, drop: new HashSet<string> { "head.bias" });
        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Load(m, path));
        Assert.Equal($"{path}: unexpected key head.bias", ex.Message);
        AssertAllZero(m);
    }

    [Fact]
    public void Several_problems_are_listed_on_one_line()
    {
        var path = AnyParity("checkpoint.pth");
        using var ck = Checkpoints.ReadStateDict(path);
        using var m = ClassifierLike(ck, (k, s) => k == "head.weight" ? [s[0] + 1, s[1]] : null,
                                     extra: [("a.weight", [1]), ("b.weight", [1])], drop: new HashSet<string> { "fc_norm.bias" });
        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Load(m, path));
        TensorAssert.OneLineNaming(ex, path);
        Assert.Contains("shape mismatch for head.weight", ex.Message);
        Assert.Contains("2 missing keys a.weight, b.weight", ex.Message);
        Assert.Contains("unexpected key fc_norm.bias", ex.Message);
        Assert.Null(ex.Key);
        Assert.Empty(ex.Report!.Loaded);
        AssertAllZero(m);
    }

    [Fact]
    public void Non_strict_load_copies_what_matches_and_reports_the_rest()
    {
        var path = AnyParity("checkpoint.pth");
        using var ck = Checkpoints.ReadStateDict(path);
        using var m = ClassifierLike(ck, (k, s) => k == "head.weight" ? [s[0] + 1, s[1]] : null,
                                     extra: [("a.weight", [2])], drop: new HashSet<string> { "fc_norm.bias" });

        var r = Checkpoints.Load(m, path, strict: false);

        Assert.Equal(["a.weight"], r.Missing);
        Assert.Equal(["fc_norm.bias"], r.Unexpected);
        var mm = Assert.Single(r.Mismatched);
        Assert.Equal("head.weight", mm.Key);
        Assert.Equal(ck["head.weight"].shape, mm.CheckpointShape);
        Assert.Equal(ck.Count - 2, r.Loaded.Count);
        var state = m.state_dict();
        foreach (var k in r.Loaded) TensorAssert.Equal(ck[k], state[k], k);
        Assert.Equal(0, state["head.weight"].count_nonzero().item<long>());
        Assert.Equal(0, state["a.weight"].count_nonzero().item<long>());
    }

    [Fact]
    public void Load_keeps_the_model_dtype_and_does_not_track_gradients()
    {
        var path = AnyParity("checkpoint.pth");
        using var ck = Checkpoints.ReadStateDict(path);
        using var m = ShapeModule.Build(ck.Select(kv => (kv.Key, kv.Value.shape, ScalarType.Float64)));
        Checkpoints.Load(m, path);
        foreach (var (k, t) in m.state_dict())
        {
            Assert.Equal(ScalarType.Float64, t.dtype);
            Assert.True(t.is_leaf, $"{k} is no longer a leaf");
            Assert.True(t.device_type == DeviceType.CPU);
            using var expected = ck[k].to(float64);
            TensorAssert.Equal(expected, t.detach(), k);
        }
    }
}
