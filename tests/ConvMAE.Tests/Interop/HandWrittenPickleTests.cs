using Xunit;
using System.IO.Compression;
using System.Text;
using ConvMAE.Interop;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Interop;

/// <summary>torch.save archives assembled byte by byte here, to reach cases the fixtures do not have
/// (views into a shared storage, out-of-range strides, whole pickled models). Expected values are worked out by hand.</summary>
public class HandWrittenPickleTests
{
    /// <summary>Pickle opcodes for a protocol-2 stream.</summary>
    private sealed class P
    {
        private readonly List<byte> _b = [0x80, 0x02];
        public P Op(params byte[] ops) { _b.AddRange(ops); return this; }
        public P Str(string s) { var u = Encoding.UTF8.GetBytes(s); _b.Add(0x58); _b.AddRange(BitConverter.GetBytes(u.Length)); _b.AddRange(u); return this; }
        public P Int(byte v) => Op(0x4b, v);
        public P Global(string module, string name) { _b.Add(0x63); _b.AddRange(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); return this; }
        public P Tuple2(byte a, byte b) => Int(a).Int(b).Op(0x86);
        /// <summary>torch._utils._rebuild_tensor_v2(storage '0' of 10 floats, offset, size, stride, False, OrderedDict())</summary>
        public P Tensor(byte offset, (byte, byte) size, (byte, byte) stride) =>
            Global("torch._utils", "_rebuild_tensor_v2").Op(0x28)
            .Op(0x28).Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(10).Op(0x74, 0x51)
            .Int(offset).Tuple2(size.Item1, size.Item2).Tuple2(stride.Item1, stride.Item2).Op(0x89)
            .Global("collections", "OrderedDict").Op(0x29, 0x52)
            .Op(0x74, 0x52);
        public byte[] Stop() { _b.Add(0x2e); return _b.ToArray(); }
    }

    private static void WriteArchive(string path, byte[] pickle)
    {
        using var z = ZipFile.Open(path, ZipArchiveMode.Create);
        using (var s = z.CreateEntry("t/data.pkl").Open()) s.Write(pickle);
        using (var s = z.CreateEntry("t/data/0").Open())
            for (int i = 0; i < 10; i++) s.Write(BitConverter.GetBytes((float)i));   // storage = 0, 1, ..., 9
        using (var s = z.CreateEntry("t/version").Open()) s.Write("3\n"u8);
    }

    [Fact]
    public void Views_into_a_shared_storage_are_rebuilt_from_offset_size_and_stride()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("views.pth");
        // {'a': storage[2:].as_strided((2,2),(1,2)), 'b': storage.as_strided((2,5),(5,1))}  (a bare state_dict)
        WriteArchive(path, new P().Op(0x7d, 0x28)
            .Str("a").Tensor(2, (2, 2), (1, 2))
            .Str("b").Tensor(0, (2, 5), (5, 1))
            .Op(0x75).Stop());

        using var ck = Checkpoints.Read(path);

        Assert.Null(ck.StateDictKey);
        Assert.Equal(["a", "b"], ck.StateDict.Keys);
        // a[i,j] = storage[2 + i + 2j]
        using var a = torch.tensor(new float[] { 2, 4, 3, 5 }).reshape(2, 2);
        using var b = torch.arange(10, dtype: float32).reshape(2, 5);
        TensorAssert.Equal(a, ck.StateDict["a"], "a");
        TensorAssert.Equal(b, ck.StateDict["b"], "b");
    }

    [Fact]
    public void A_view_reaching_past_its_storage_is_reported_with_its_key()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("bad.pth");
        WriteArchive(path, new P().Op(0x7d, 0x28).Str("model").Op(0x7d, 0x28)
            .Str("blocks3.0.attn.qkv.weight").Tensor(2, (4, 4), (1, 4))        // needs element 2 + 3 + 12 = 17 of 10
            .Op(0x75).Op(0x75).Stop());

        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Read(path));

        Assert.Equal(CheckpointError.Corrupt, ex.Kind);
        Assert.Equal("blocks3.0.attn.qkv.weight", ex.Key);
        TensorAssert.OneLineNaming(ex, path);
        Assert.Contains("reaches past its storage of 10 elements", ex.Message);
    }

    [Fact]
    public void Unknown_classes_stay_inert_and_a_whole_pickled_model_is_refused()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("model.pth");
        // torch.save(model): models_convvit.ConvViT.__new__() with BUILD of its __dict__ (which would hold the parameters)
        WriteArchive(path, new P().Global("models_convvit", "ConvViT").Op(0x29, 0x81)
            .Op(0x7d, 0x28).Str("training").Op(0x88).Op(0x75).Op(0x62).Stop());

        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Read(path));

        Assert.Equal(CheckpointError.NoStateDict, ex.Kind);
        TensorAssert.OneLineNaming(ex, path);
        Assert.Contains("a pickled models_convvit.ConvViT object", ex.Message);
    }

    [Fact]
    public void A_pickle_cut_short_is_truncated_not_a_crash()
    {
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("cut.pth");
        var full = new P().Op(0x7d, 0x28).Str("a").Tensor(0, (2, 5), (5, 1)).Op(0x75).Stop();
        WriteArchive(path, full[..(full.Length - 30)]);

        var ex = Assert.Throws<CheckpointException>(() => Checkpoints.Read(path));

        Assert.Equal(CheckpointError.Truncated, ex.Kind);
        TensorAssert.OneLineNaming(ex, path);
        Assert.Contains("damaged data.pkl", ex.Message);
    }
}
