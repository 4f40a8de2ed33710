using System.Collections;
using System.Diagnostics.CodeAnalysis;
using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>
/// An ordered map from parameter/buffer name to tensor, like PyTorch's <c>OrderedDict</c> state_dict.
/// Keys keep the order they were added in (the order of the file for checkpoints read from disk).
/// A state dict read from a file owns its tensors: dispose it to free their native memory.
/// </summary>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly OrderedDictionary<string, Tensor> _items = new(StringComparer.Ordinal);

    public StateDict() { }

    /// <summary>A state dict over existing tensors (not copied; disposing the result disposes them).</summary>
    public StateDict(IEnumerable<KeyValuePair<string, Tensor>> items)
    {
        foreach (var (k, v) in items) Add(k, v);
    }

    public int Count => _items.Count;
    public Tensor this[string key] => _items[key];
    public IEnumerable<string> Keys => _items.Keys;
    public IEnumerable<Tensor> Values => _items.Values;
    public bool ContainsKey(string key) => _items.ContainsKey(key);
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out Tensor value) => _items.TryGetValue(key, out value);
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Adds a new key at the end; throws if the key is already present.</summary>
    public void Add(string key, Tensor value) => _items.Add(key, value);

    /// <summary>Replaces the tensor of an existing key in place (the order is kept); returns the old tensor.</summary>
    public Tensor Replace(string key, Tensor value)
    {
        var old = _items[key];
        _items[key] = value;
        return old;
    }

    /// <summary>Removes a key and returns its tensor (not disposed), or null when absent.</summary>
    public Tensor? Remove(string key) => _items.Remove(key, out var t) ? t : null;

    /// <summary>The shape of every tensor, in order.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes() =>
        _items.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);

    /// <summary>A plain dictionary over the same tensors, for TorchSharp APIs that want one.</summary>
    public Dictionary<string, Tensor> ToDictionary() => new(_items, StringComparer.Ordinal);

    /// <summary>Disposes every tensor held and empties the dict.</summary>
    public void Dispose()
    {
        foreach (var t in _items.Values) t.Dispose();
        _items.Clear();
    }

    /// <summary>"[384,128]": the shape notation used in error messages and reports.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(",", shape) + "]";
}
