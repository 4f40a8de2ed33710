using Xunit;
using System.Collections;
using ConvMAE.Interop;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Interop;

/// <summary>Writing both formats and reading them back (with our reader and with PyBridge's independent one).</summary>
public class CheckpointRoundTripTests
{
    public static TheoryData<string> ParityFolders => InteropFixtures.ParityFolders();

    /// <summary>A module with the fixture's names and shapes, holding the fixture's weights.</summary>
    private static (ShapeModule Module, StateDict Expected) FixtureModule(string folder)
    {
        var expected = Checkpoints.ReadStateDict(InteropFixtures.Parity(folder, "model.safetensors"));
        var module = ShapeModule.Build(expected);
        Checkpoints.LoadInto(module, expected);
        return (module, expected);
    }

    [Theory]
    [MemberData(nameof(ParityFolders))]
    public void Safetensors_round_trip(string folder)
    {
        var (module, expected) = FixtureModule(folder);
        using var _m = module;
        using var _e = expected;
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("model.safetensors");

        Checkpoints.SaveSafetensors(module, path, new Dictionary<string, string> { ["format"] = "pt" });

        using var back = Checkpoints.Read(path);
        Assert.Equal(CheckpointFormat.Safetensors, back.Format);
        Assert.Equal("pt", back.Metadata["format"]);
        Assert.Equal(expected.Keys.Order(), back.StateDict.Keys.Order());
        foreach (var (k, t) in expected) TensorAssert.Equal(t, back.StateDict[k], k);

        var theirs = Safetensors.LoadStateDict(path);       // independent reader
        Assert.Equal(expected.Count, theirs.Count);
        foreach (var (k, t) in theirs) { TensorAssert.Equal(expected[k], t, k); t.Dispose(); }
    }

    [Theory]
    [MemberData(nameof(ParityFolders))]
    public void Training_checkpoint_round_trip(string folder)
    {
        var (module, expected) = FixtureModule(folder);
        using var _m = module;
        using var _e = expected;
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("checkpoint.pth");
        var args = new Dictionary<string, object?>
        {
            ["model"] = "convmae_convvit_small", ["batch_size"] = 64L, ["blr"] = 1.5e-4, ["norm_pix_loss"] = true,
            ["resume"] = "", ["finetune"] = null, ["input_size"] = 224L, ["mask_ratio"] = 0.75,
            ["betas"] = new object?[] { 0.9, 0.95 }, ["crop_scale"] = new List<object?> { 0.2, 1.0 },
        };

        TestCheckpoints.SaveTrainingCheckpoint(path, module, epoch: 41, args: args);

        using var back = Checkpoints.Read(path);
        Assert.Equal(CheckpointFormat.TorchZip, back.Format);
        Assert.Equal("model", back.StateDictKey);
        Assert.Equal(41L, back.Epoch);
        Assert.Equal(args.Keys, back.Args!.Keys);
        foreach (var (k, v) in args)
            if (v is IEnumerable e and not string) Assert.Equal(e.Cast<object?>(), ((IEnumerable)back.Args[k]!).Cast<object?>());
            else Assert.Equal(v, back.Args[k]);
        Assert.Empty(Assert.IsType<PyDict>(back.Extras["optimizer"]));
        Assert.Empty(Assert.IsType<PyDict>(back.Extras["scaler"]));
        Assert.Equal(module.state_dict().Keys, back.StateDict.Keys);          // the module's order is kept
        foreach (var (k, t) in expected) TensorAssert.Equal(t, back.StateDict[k], k);

        // PyBridge's unpickler (an independent reader) sees the same file.
        var top = PyTorchUnpickler.UnpickleStateDict(path);
        Assert.Equal(41, Convert.ToInt64(top["epoch"]));
        var model = (Hashtable)top["model"]!;
        Assert.Equal(expected.Count, model.Count);
        foreach (DictionaryEntry e in model)
        {
            TensorAssert.Equal(expected[(string)e.Key], (Tensor)e.Value!, (string)e.Key);
            ((Tensor)e.Value!).Dispose();
        }
    }

    [Fact]
    public void Bare_state_dict_pth_round_trip()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("bare.pth");
        using var sd = new StateDict
        {
            { "b.weight", torch.arange(6, dtype: float32).reshape(2, 3) },
            { "a.bias", torch.tensor(new[] { -1.5f, 2.5f }) },
        };
        Checkpoints.SaveTorch(path, sd);
        using var back = Checkpoints.Read(path);
        Assert.Null(back.StateDictKey);
        Assert.Null(back.Epoch);
        Assert.Equal(new[] { "b.weight", "a.bias" }, back.StateDict.Keys);   // file order, not sorted
        foreach (var (k, t) in sd) TensorAssert.Equal(t, back.StateDict[k], k);
    }

    /// <summary>Other dtypes, a non-contiguous tensor, a scalar and an empty tensor survive both formats.</summary>
    [Fact]
    public void Dtypes_and_layouts_round_trip()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        using var t64 = torch.linspace(-1, 1, 12, dtype: float64).reshape(3, 4);
        using var transposed = torch.arange(12, dtype: float32).reshape(3, 4).t();   // non-contiguous view
        var items = new (string, Tensor)[]
        {
            ("f64", t64),
            ("f16", torch.tensor(new float[] { 1.5f, -2.25f }).to(float16)),
            ("bf16", torch.tensor(new float[] { 3f, -0.5f }).to(bfloat16)),
            ("i64", torch.tensor(new long[] { long.MaxValue, -7 })),
            ("i32", torch.tensor(new[] { 1, -2, 3 })),
            ("u8", torch.tensor(new byte[] { 0, 255 })),
            ("bool", torch.tensor(new[] { true, false, true })),
            ("scalar", torch.tensor(4.0f)),
            ("empty", torch.zeros(0, 5)),
            ("transposed", transposed),
        };
        using var sd = new StateDict(items.Select(i => new KeyValuePair<string, Tensor>(i.Item1, i.Item2)));
        Checkpoints.SaveSafetensors(sd, tmp.File("x.safetensors"));
        Checkpoints.SaveTorch(tmp.File("x.pth"), sd);
        foreach (var f in new[] { "x.safetensors", "x.pth" })
        {
            using var back = Checkpoints.Read(tmp.File(f));
            Assert.Equal(sd.Keys, back.StateDict.Keys);
            foreach (var (k, t) in sd) TensorAssert.Equal(t, back.StateDict[k], $"{f}:{k}");
        }
    }

    [Fact]
    public void Failed_write_leaves_the_existing_file_and_no_temp_file()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("checkpoint.pth");
        using var m = ShapeModule.Build([("w", new long[] { 4 }, ScalarType.Float32)]);
        TestCheckpoints.SaveTrainingCheckpoint(path, m, epoch: 1);
        var before = File.ReadAllBytes(path);

        // An argument value that cannot be pickled makes the write fail half-way through.
        var ex = Assert.Throws<CheckpointException>(() =>
            TestCheckpoints.SaveTrainingCheckpoint(path, m, epoch: 2, args: [new("bad", new object())]));
        Assert.Equal(CheckpointError.WriteFailed, ex.Kind);
        TensorAssert.OneLineNaming(ex, path);

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { "checkpoint.pth" }, Directory.GetFiles(tmp.Path).Select(Path.GetFileName));
        using var ck = Checkpoints.Read(path);
        Assert.Equal(1L, ck.Epoch);
    }

    [Fact]
    public void Write_into_a_missing_folder_fails_cleanly()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = Path.Combine(tmp.Path, "no-such-folder", "model.safetensors");
        using var m = ShapeModule.Build([("w", new long[] { 4 }, ScalarType.Float32)]);
        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.SaveSafetensors(m, path));
        Assert.Equal(CheckpointError.WriteFailed, ex.Kind);
        TensorAssert.OneLineNaming(ex, path);
    }
}
