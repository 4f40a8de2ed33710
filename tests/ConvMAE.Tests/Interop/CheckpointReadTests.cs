using Xunit;
using System.Collections;
using ConvMAE.Interop;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Interop;

/// <summary>Reading the official-style fixtures in both formats.</summary>
public class CheckpointReadTests
{
    public static TheoryData<string> ParityFolders => InteropFixtures.ParityFolders();
    public static TheoryData<string> BackboneFolders => InteropFixtures.BackboneFolders();

    [Theory]
    [MemberData(nameof(ParityFolders))]
    public void Pth_and_safetensors_hold_the_same_keys_and_tensors(string folder)
    {
        using var pth = Checkpoints.Read(InteropFixtures.Parity(folder, "checkpoint.pth"));
        using var st = Checkpoints.Read(InteropFixtures.Parity(folder, "model.safetensors"));

        Assert.Equal(CheckpointFormat.TorchZip, pth.Format);
        Assert.Equal(CheckpointFormat.Safetensors, st.Format);
        Assert.Equal(st.StateDict.Keys.Order(), pth.StateDict.Keys.Order());
        foreach (var (k, t) in st.StateDict)
            TensorAssert.Equal(t, pth.StateDict[k], k);
    }

    [Theory]
    [MemberData(nameof(ParityFolders))]
    public void Training_checkpoint_exposes_model_epoch_and_args(string folder)
    {
        var dir = Path.Combine(InteropFixtures.ParityDir, folder);
        using var ck = Checkpoints.Read(Path.Combine(dir, "checkpoint.pth"));

        // The fixture README/spec: a dict {model, optimizer, epoch=0, scaler={}, args=Namespace(...)},
        // the state_dict starting with pos_embed, n_params = total numel of the state_dict.
        Assert.Equal("model", ck.StateDictKey);
        Assert.Equal(0L, ck.Epoch);
        Assert.Equal("pos_embed", ck.StateDict.Keys.First());
        long nParams = InteropFixtures.Config(dir).GetProperty("n_params").GetInt64();
        Assert.Equal(nParams, ck.StateDict.Values.Sum(t => t.numel()));

        Assert.NotNull(ck.Args);
        Assert.Equal(224L, ck.Args!["input_size"]);
        Assert.True(ck.Args.ContainsKey("seed"));
        Assert.Equal(new[] { "optimizer", "epoch", "scaler", "args" }.Order(), ck.Extras.Keys.Order());
        var opt = Assert.IsType<PyDict>(ck.Extras["optimizer"]);
        var groups = Assert.IsType<List<object?>>(opt.Get("param_groups"));
        var group = Assert.IsType<PyDict>(Assert.Single(groups));
        Assert.Equal(1e-4, group.Get("lr"));
        Assert.Equal(new object?[] { 0.9, 0.999 }, Assert.IsType<object?[]>(group.Get("betas")));
        Assert.Empty(Assert.IsType<PyDict>(ck.Extras["scaler"]));
    }

    [Theory]
    [MemberData(nameof(BackboneFolders))]
    public void Pretrain_checkpoint_of_backbone_fixture_reads_with_its_metadata(string folder)
    {
        using var ck = Checkpoints.Read(InteropFixtures.Backbone(folder, "pretrain_checkpoint.pth"));
        Assert.Equal("model", ck.StateDictKey);
        Assert.Equal(1599L, ck.Epoch);                      // as written by the fixture generator
        Assert.Equal("convmae_small", ck.Args!["model"]);
        Assert.Equal(new long[] { 1, 196, 96 }, ck.StateDict["pos_embed"].shape);   // 14×14 grid at 224 px
        Assert.Contains("decoder_pred.weight", ck.StateDict.Keys);
    }

    /// <summary>An independent reader (TorchSharp.PyBridge's unpickler and safetensors loader) sees the same tensors.</summary>
    [Theory]
    [MemberData(nameof(ParityFolders))]
    public void Reader_agrees_with_PyBridge(string folder)
    {
        string pthPath = InteropFixtures.Parity(folder, "checkpoint.pth");
        string stPath = InteropFixtures.Parity(folder, "model.safetensors");
        using var ours = Checkpoints.Read(pthPath);

        var top = PyTorchUnpickler.UnpickleStateDict(pthPath);
        var model = (Hashtable)top["model"]!;
        Assert.Equal(model.Count, ours.StateDict.Count);
        foreach (DictionaryEntry e in model)
            TensorAssert.Equal((Tensor)e.Value!, ours.StateDict[(string)e.Key], (string)e.Key);

        var theirs = Safetensors.LoadStateDict(stPath);
        using var oursSt = Checkpoints.Read(stPath);
        Assert.Equal(theirs.Keys.Order(), oursSt.StateDict.Keys.Order());
        foreach (var (k, t) in theirs)
            TensorAssert.Equal(t, oursSt.StateDict[k], k);
        foreach (var t in theirs.Values) t.Dispose();
        foreach (DictionaryEntry e in model) ((Tensor)e.Value!).Dispose();
    }

    [Fact]
    public void Format_is_detected_from_content_not_extension()
    {
        var folder = InteropFixtures.Folders(InteropFixtures.ParityDir)[0];
        using var tmp = TestPaths.Temp("convmae-interop-");
        var a = tmp.File("weights.bin");
        var b = tmp.File("weights.pth");
        File.Copy(Path.Combine(folder, "checkpoint.pth"), a);
        File.Copy(Path.Combine(folder, "model.safetensors"), b);
        using var ca = Checkpoints.Read(a);
        using var cb = Checkpoints.Read(b);
        Assert.Equal(CheckpointFormat.TorchZip, ca.Format);
        Assert.Equal(CheckpointFormat.Safetensors, cb.Format);
        Assert.Equal(ca.StateDict.Count, cb.StateDict.Count);
    }

    [Fact]
    public void Extra_tensors_are_described_unless_asked_for()
    {
        // A checkpoint whose optimizer state holds a tensor (an AdamW moment), read in both modes.
        using var tmp = TestPaths.Temp("convmae-interop-");
        var path = tmp.File("ck.pth");
        using var m = ShapeModule.Build([("w", new long[] { 2, 3 }, ScalarType.Float32)], (_, s, d) => torch.ones(s, dtype: d));
        using var moment = torch.full(new long[] { 2, 3 }, 0.5f);
        var state = new PyDict { [0L] = new PyDict { ["step"] = 3L, ["exp_avg"] = moment } };
        TestCheckpoints.SaveTrainingCheckpoint(path, m, epoch: 3, optimizer: new PyDict { ["state"] = state, ["param_groups"] = new List<object?>() });

        using (var lazy = Checkpoints.Read(path))
        {
            var info = ((PyDict)((PyDict)((PyDict)lazy.Extras["optimizer"]!).Get("state")!)[0L]!).Get("exp_avg");
            var ti = Assert.IsType<TensorInfo>(info);
            Assert.Equal(new long[] { 2, 3 }, ti.Shape);
        }
        using (var full = Checkpoints.Read(path, loadExtraTensors: true))
        {
            var t = ((PyDict)((PyDict)((PyDict)full.Extras["optimizer"]!).Get("state")!)[0L]!).Get("exp_avg");
            TensorAssert.Equal(moment, Assert.IsAssignableFrom<Tensor>(t), "exp_avg");
        }
    }
}
