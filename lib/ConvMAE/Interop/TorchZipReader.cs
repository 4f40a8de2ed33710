using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>A storage named by a torch.save persistent id: ('storage', torch.FloatStorage, key, location, numel).</summary>
internal sealed record StorageRef(string Key, ScalarType DType, long Numel);

/// <summary>A tensor described by the pickle, read from its storage only when asked for.</summary>
internal sealed class LazyTensor(StorageRef storage, long offset, long[] size, long[] stride)
{
    public StorageRef Storage { get; } = storage;
    public long Offset { get; } = offset;
    public long[] Size { get; } = size;
    public long[] Stride { get; } = stride;
    public Tensor? Value { get; set; }
    public TensorInfo Info => new(Storage.DType, Size);
}

/// <summary>
/// Reads the zip archive written by <c>torch.save</c> (PyTorch ≥ 1.6): <c>&lt;name&gt;/data.pkl</c> holds the pickled
/// object, <c>&lt;name&gt;/data/&lt;key&gt;</c> the raw little-endian bytes of each storage.
/// </summary>
internal sealed class TorchZipReader : IDisposable
{
    private readonly string _source;
    private readonly ZipArchive _zip;
    private readonly string _prefix;           // "checkpoint/" etc.
    private readonly Dictionary<string, Tensor> _storages = new(StringComparer.Ordinal);

    private TorchZipReader(string source, ZipArchive zip, string prefix)
    {
        _source = source;
        _zip = zip;
        _prefix = prefix;
    }

    public static TorchZipReader Open(string source, Stream stream)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            stream.Dispose();
            throw new CheckpointException(source, CheckpointError.Truncated,
                $"truncated or damaged torch.save archive (the zip directory at the end of the file is missing or unreadable: {e.Message})", e);
        }

        try
        {
            var pkl = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                             && e.FullName.Count(c => c == '/') == 1).ToList();
            if (pkl.Count == 0)
            {
                bool script = zip.Entries.Any(e => e.FullName.EndsWith("/constants.pkl", StringComparison.Ordinal)
                                                   || e.FullName.Contains("/code/", StringComparison.Ordinal));
                throw new CheckpointException(source, script ? CheckpointError.UnsupportedFormat : CheckpointError.UnknownFormat,
                    script ? "a TorchScript archive (torch.jit.save), not a torch.save checkpoint"
                           : "a zip archive without data.pkl, not a torch.save checkpoint");
            }
            if (pkl.Count > 1)
                throw new CheckpointException(source, CheckpointError.Corrupt, "the archive holds more than one data.pkl");
            string prefix = pkl[0].FullName[..^"data.pkl".Length];

            var order = zip.GetEntry(prefix + "byteorder");
            if (order is not null)
            {
                using var r = new StreamReader(order.Open());
                var text = r.ReadToEnd().Trim();
                if (text != "little")
                    throw new CheckpointException(source, CheckpointError.UnsupportedFormat,
                        $"tensors stored in '{text}' byte order; only little-endian checkpoints are supported");
            }
            return new TorchZipReader(source, zip, prefix);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    /// <summary>Unpickles data.pkl; tensors come back as <see cref="LazyTensor"/>.</summary>
    public object? LoadPickle()
    {
        var entry = _zip.GetEntry(_prefix + "data.pkl")!;
        byte[] bytes = ReadEntry(entry);
        var reader = new PickleReader(bytes)
        {
            PersistentLoad = PersistentLoad,
            RebuildTensor = (storage, offset, size, stride) =>
                storage is StorageRef s
                    ? new LazyTensor(s, offset, size, stride)
                    : throw new PickleFormatException($"tensor storage is a {PickleReader.TypeName(storage)}"),
        };
        try
        {
            return reader.Load();
        }
        catch (PickleFormatException e)
        {
            throw new CheckpointException(_source, e.Truncated ? CheckpointError.Truncated : CheckpointError.Corrupt,
                $"damaged data.pkl: {e.Message}", e);
        }
    }

    private object? PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: >= 5 } t || t[0] is not "storage")
            throw new PickleFormatException($"unknown persistent id {PickleReader.TypeName(pid)}");
        string type = t[1] switch
        {
            PyGlobal g => g.Name,
            string s => s,
            _ => throw new PickleFormatException("storage type is not a class"),
        };
        if (t[2] is not string key) throw new PickleFormatException("storage key is not a str");
        if (t[4] is not long numel) throw new PickleFormatException("storage size is not an int");
        var dtype = type switch
        {
            "DoubleStorage" => ScalarType.Float64,
            "FloatStorage" => ScalarType.Float32,
            "HalfStorage" => ScalarType.Float16,
            "BFloat16Storage" => ScalarType.BFloat16,
            "LongStorage" => ScalarType.Int64,
            "IntStorage" => ScalarType.Int32,
            "ShortStorage" => ScalarType.Int16,
            "CharStorage" => ScalarType.Int8,
            "ByteStorage" => ScalarType.Byte,
            "BoolStorage" => ScalarType.Bool,
            "ComplexFloatStorage" => ScalarType.ComplexFloat32,
            "ComplexDoubleStorage" => ScalarType.ComplexFloat64,
            _ => throw new PickleFormatException($"storage type torch.{type} is not supported"),
        };
        return new StorageRef(key, dtype, numel);
    }

    /// <summary>Reads the tensor's storage (once per storage) and returns the tensor as described.</summary>
    public Tensor Materialize(LazyTensor lt, string what)
    {
        if (lt.Value is not null) return lt.Value;
        var st = Storage(lt.Storage, what);
        long needed = 0;
        if (lt.Size.Any(s => s < 0) || lt.Stride.Any(s => s < 0) || lt.Size.Length != lt.Stride.Length || lt.Offset < 0)
            throw Corrupt($"{what}: invalid size {StateDict.FormatShape(lt.Size)} / stride {StateDict.FormatShape(lt.Stride)}", what);
        if (lt.Size.All(s => s > 0))
            needed = lt.Offset + 1 + lt.Size.Zip(lt.Stride, (s, d) => (s - 1) * d).Sum();
        if (needed > lt.Storage.Numel)
            throw Corrupt($"{what}: size {StateDict.FormatShape(lt.Size)} with stride {StateDict.FormatShape(lt.Stride)} " +
                          $"and offset {lt.Offset} reaches past its storage of {lt.Storage.Numel} elements", what);

        Tensor result;
        bool wholeStorage = lt.Offset == 0 && lt.Size.Aggregate(1L, (a, b) => a * b) == lt.Storage.Numel
                            && IsContiguous(lt.Size, lt.Stride);
        if (wholeStorage)
            result = st.view(lt.Size);
        else
        {
            // A view into part of a storage (or a strided one): copy it out so the tensor is compact.
            using var strided = st.as_strided(lt.Size, lt.Stride, lt.Offset);
            using var compact = strided.contiguous();
            result = compact.clone();
        }
        lt.Value = result;
        return result;
    }

    private static bool IsContiguous(long[] size, long[] stride)
    {
        long expected = 1;
        for (int i = size.Length - 1; i >= 0; i--)
        {
            if (size[i] != 1 && stride[i] != expected) return false;
            expected *= size[i];
        }
        return true;
    }

    private Tensor Storage(StorageRef s, string what)
    {
        if (_storages.TryGetValue(s.Key, out var t)) return t;
        var entry = _zip.GetEntry(_prefix + "data/" + s.Key)
                    ?? throw Corrupt($"{what}: storage data/{s.Key} is missing from the archive", what);
        var st = torch.empty(s.Numel, dtype: s.DType);
        long bytes = s.Numel * st.ElementSize;
        if (entry.Length != bytes)
        {
            st.Dispose();
            throw new CheckpointException(_source, entry.Length < bytes ? CheckpointError.Truncated : CheckpointError.Corrupt,
                $"{what}: storage data/{s.Key} holds {entry.Length} bytes, expected {bytes} ({s.Numel} × {s.DType})", key: what);
        }
        try
        {
            using var es = entry.Open();
            st.ReadBytesFromStream(es, 1 << 20);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            st.Dispose();
            throw new CheckpointException(_source, CheckpointError.Truncated,
                $"{what}: cannot read storage data/{s.Key}: {e.Message}", e, key: what);
        }
        _storages[s.Key] = st;
        return st;
    }

    private byte[] ReadEntry(ZipArchiveEntry entry)
    {
        try
        {
            using var s = entry.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            return ms.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            throw new CheckpointException(_source, CheckpointError.Truncated, $"cannot read {entry.FullName}: {e.Message}", e);
        }
    }

    private CheckpointException Corrupt(string problem, string key) =>
        new(_source, CheckpointError.Corrupt, problem, key: key);

    /// <summary>Frees the storage handles (tensors handed out keep their own references).</summary>
    public void Dispose()
    {
        foreach (var t in _storages.Values) t.Dispose();
        _storages.Clear();
        _zip.Dispose();
    }
}
