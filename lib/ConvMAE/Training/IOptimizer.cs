using ConvMAE.Interop;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>What the training loop needs of an optimizer. State is exchanged in PyTorch's optimizer.state_dict()
/// layout ({"state": {index: {...}}, "param_groups": [...]}) so the kit's checkpoints keep the official shape.</summary>
public interface IOptimizer : IDisposable
{
    /// <summary>Sets the base learning rate; each group applies its own lr_scale.</summary>
    void SetLearningRate(double lr);
    double LearningRate { get; }
    void Step();
    void ZeroGrad();
    IEnumerable<TorchSharp.Modules.Parameter> Parameters { get; }
    PyDict StateDict();
    void LoadStateDict(PyDict state);
}

internal static class OptimizerState
{
    public static PyDict Groups(IEnumerable<(IReadOnlyList<int> Indices, PyDict Options)> groups)
    {
        var list = new List<object?>();
        foreach (var (indices, options) in groups)
        {
            options["params"] = indices.Select(i => (object?)(long)i).ToList();
            list.Add(options);
        }
        return new PyDict { ["param_groups"] = list };
    }

    public static Tensor TensorAt(PyDict state, long index, string key)
    {
        var perParam = (PyDict)(state["state"] ?? throw new InvalidDataException("optimizer state has no 'state'"));
        var entry = perParam.TryGetValue(index, out var e) ? (PyDict)e! : throw new InvalidDataException($"optimizer state has no entry for parameter {index}");
        return entry[key] as Tensor ?? throw new InvalidDataException($"optimizer state of parameter {index} has no tensor '{key}' (was it read with loadExtraTensors?)");
    }
}
