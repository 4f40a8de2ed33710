using static TorchSharp.torch;

namespace ConvMAE.Interop;

// How Python values read from a pickle are represented (nothing is ever executed):
//   None → null, bool → bool, int → long (or System.Numerics.BigInteger when huge), float → double,
//   str → string, bytes/bytearray → byte[], tuple → object?[], list/set → List<object?>,
//   dict and collections.OrderedDict → PyDict (insertion order kept), torch tensors → Tensor (or
//   TensorInfo when the reader was asked not to load them), any other class instance → PyObject.

/// <summary>A Python dict (or OrderedDict) read from a pickle; keys keep the pickle's order.</summary>
public sealed class PyDict : OrderedDictionary<object, object?>
{
    /// <summary>Attributes set on the dict object itself (an OrderedDict state_dict carries <c>_metadata</c>).</summary>
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);

    /// <summary>Value of a string key, or null when absent.</summary>
    public object? Get(string key) => TryGetValue(key, out var v) ? v : null;
}

/// <summary>
/// An instance of a Python class the reader does not model (argparse.Namespace, numpy scalars, ...), kept as
/// inert data: the class name, the constructor arguments the pickle gave, and the state it set.
/// </summary>
public sealed class PyObject(string module, string name)
{
    public string Module { get; } = module;
    public string Name { get; } = name;
    public string FullName => $"{Module}.{Name}";
    /// <summary>Arguments given to the class/callable in the pickle (REDUCE/NEWOBJ), never used to run anything.</summary>
    public object?[] Args { get; internal set; } = [];
    /// <summary>The state set by BUILD (for argparse.Namespace: a PyDict of its attributes).</summary>
    public object? State { get; internal set; }

    /// <summary>An <c>argparse.Namespace</c> with the given attributes, for writing a training checkpoint.</summary>
    public static PyObject Namespace(IEnumerable<KeyValuePair<string, object?>> attributes)
    {
        var d = new PyDict();
        foreach (var (k, v) in attributes) d[k] = v;
        return new PyObject("argparse", "Namespace") { State = d };
    }

    public override string ToString() => $"<{FullName}>";
}

/// <summary>A reference to a Python global (class or function) that appeared in a pickle.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";
}

/// <summary>A tensor described in a checkpoint but not loaded (see <c>Checkpoints.Read(path, loadExtraTensors: false)</c>).</summary>
public sealed record TensorInfo(ScalarType DType, long[] Shape)
{
    public override string ToString() => $"tensor {DType} {StateDict.FormatShape(Shape)} (not loaded)";
}
