using System.Text.Json;
using ConvMAE.Interop;
using ConvMAE.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>Test-side writers and readers of fixture formats (kept out of the library, which never needs them).</summary>
public static class TestCheckpoints
{
    /// <summary>
    /// Writes an official-layout training checkpoint (as util/misc.py save_model does):
    /// <c>{'model': OrderedDict state_dict, 'optimizer': ..., 'epoch': int, 'scaler': ..., 'args': argparse.Namespace}</c>,
    /// as a torch.save zip archive that <c>torch.load</c> reads. Written atomically.
    /// </summary>
    public static void SaveTrainingCheckpoint(string path, nn.Module module, long epoch, IEnumerable<KeyValuePair<string, object?>>? args = null,
                                              object? optimizer = null, object? scaler = null) =>
        Checkpoints.SaveTorch(path, new PyDict
        {
            ["model"] = new StateDict(module.state_dict()),   // the module's own tensors: not disposed here
            ["optimizer"] = optimizer ?? new PyDict(),
            ["epoch"] = epoch,
            ["scaler"] = scaler ?? new PyDict(),
            ["args"] = PyObject.Namespace(args ?? []),
        });

    /// <summary>
    /// Reads a parity-fixture <c>config.json</c> ({kind, batch, mask_ratio, layer_norm_eps, n_params, model{...}}): the
    /// <c>model</c> section gives the constructor kwargs; <c>layer_norm_eps</c> and <c>mask_ratio</c> (when not null) are
    /// taken from the top level.
    /// </summary>
    public static ConvViTConfig FromParityConfig(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model))
            throw new ArgumentException("config.json: no \"model\" section");
        var cfg = ConvViTConfig.FromJson(model.GetRawText());
        if (root.TryGetProperty("layer_norm_eps", out var eps) && eps.ValueKind == JsonValueKind.Number)
            cfg = cfg with { LayerNormEps = eps.GetDouble() };
        if (root.TryGetProperty("mask_ratio", out var mr) && mr.ValueKind == JsonValueKind.Number)
            cfg = cfg with { MaskRatio = mr.GetDouble() };
        return cfg.Validate();
    }
}
