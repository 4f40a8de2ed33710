using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>
/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length,
/// a JSON header {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {str: str}}, then the raw
/// little-endian bytes. The whole header is checked against the file size before any tensor is read.
/// </summary>
internal static class SafetensorsFormat
{
    private const long MaxHeader = 100L << 20;   // the reference implementation's limit

    private sealed record Entry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

    /// <summary>True when the first bytes look like a safetensors header of a file of <paramref name="fileLength"/> bytes
    /// (header length plausible and JSON starting with '{'), whether or not the file is complete.</summary>
    public static bool LooksLike(ReadOnlySpan<byte> head, long fileLength) =>
        head.Length >= 9 && head[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(head) is var n && n >= 2 && n <= MaxHeader;

    public static (StateDict Tensors, Dictionary<string, string> Metadata) Read(string source, FileStream fs)
    {
        long fileLength = fs.Length;
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > (ulong)(fileLength - 8))
            throw new CheckpointException(source, CheckpointError.Truncated,
                $"truncated safetensors file: the header declares {n} bytes but only {fileLength - 8} follow");
        var header = new byte[n];
        fs.ReadExactly(header);
        long dataLength = fileLength - 8 - (long)n;

        var (entries, metadata) = ParseHeader(source, header);
        var cut = entries.Where(e => e.End > dataLength).OrderBy(e => e.End).ToList();
        if (cut.Count > 0)
        {
            var e = cut[0];
            throw new CheckpointException(source, CheckpointError.Truncated,
                $"truncated safetensors file: tensor {e.Name} needs bytes {e.Begin}..{e.End} of the data section, " +
                $"which holds only {dataLength}" + (cut.Count > 1 ? $" ({cut.Count - 1} more tensors lie past the end)" : ""),
                key: e.Name);
        }

        var result = new StateDict();
        try
        {
            foreach (var e in entries)
            {
                var t = torch.empty(e.Shape, dtype: e.DType);
                result.Add(e.Name, t);
                fs.Position = 8 + (long)n + e.Begin;
                t.ReadBytesFromStream(fs, 1 << 20);
            }
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException)
        {
            result.Dispose();
            throw new CheckpointException(source, CheckpointError.Truncated, $"cannot read tensor data: {ex.Message}", ex);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return (result, metadata);
    }

    private static (List<Entry>, Dictionary<string, string>) ParseHeader(string source, byte[] header)
    {
        CheckpointException Bad(string what, string? key = null) =>
            new(source, CheckpointError.Corrupt, $"bad safetensors header: {what}", key: key);

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);   // trailing space padding is valid JSON whitespace
        }
        catch (JsonException e)
        {
            throw new CheckpointException(source, CheckpointError.Corrupt, $"bad safetensors header: invalid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("not a JSON object");
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object) throw Bad("__metadata__ is not an object");
                    foreach (var m in p.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                var v = p.Value;
                if (v.ValueKind != JsonValueKind.Object
                    || !v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String
                    || !v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array
                    || !v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
                    throw Bad($"entry {p.Name} lacks dtype/shape/data_offsets", p.Name);
                var dtype = DType(dt.GetString()!) ?? throw new CheckpointException(source, CheckpointError.UnsupportedFormat,
                    $"tensor {p.Name}: safetensors dtype {dt.GetString()} is not supported", key: p.Name);
                long[] shape;
                long begin, end;
                try
                {
                    shape = sh.EnumerateArray().Select(x => x.GetInt64()).ToArray();
                    begin = off[0].GetInt64();
                    end = off[1].GetInt64();
                }
                catch (Exception e) when (e is FormatException or InvalidOperationException)
                {
                    throw Bad($"entry {p.Name} has a non-integer shape or offset", p.Name);
                }
                if (shape.Any(s => s < 0) || begin < 0 || end < begin) throw Bad($"entry {p.Name} has a negative size or offset", p.Name);
                long bytes = shape.Aggregate(1L, (a, b) => checked(a * b)) * ElementSize(dtype);
                if (end - begin != bytes)
                    throw Bad($"tensor {p.Name} spans {end - begin} bytes, but {dt.GetString()} {StateDict.FormatShape(shape)} needs {bytes}", p.Name);
                if (entries.Any(e => e.Name == p.Name)) throw Bad($"tensor {p.Name} appears twice", p.Name);
                entries.Add(new Entry(p.Name, dtype, shape, begin, end));
            }
            return (entries, metadata);
        }
    }

    /// <summary>Writes tensors in the given order, offsets packed, the header padded with spaces to a multiple of 8.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var list = tensors.ToList();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                long bytes = t.NumberOfElements * t.ElementSize;
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeName(t.dtype) ?? throw new ArgumentException($"tensor {name}: dtype {t.dtype} cannot be stored in safetensors"));
                w.WriteStartArray("shape");
                foreach (var s in t.shape) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        var header = buffer.ToArray();
        int padded = (header.Length + 8 + 7) / 8 * 8 - 8;
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        stream.Write(len);
        stream.Write(header);
        for (int i = header.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var (_, t) in list) TensorBytes.Write(t, stream);
    }

    internal static ScalarType? DType(string name) => name switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => null,
    };

    internal static string? DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => null,
    };

    internal static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.ComplexFloat64 => 16,
        _ => 1,
    };
}

/// <summary>Raw little-endian bytes of a tensor, from any device and layout.</summary>
internal static class TensorBytes
{
    public static void Write(Tensor t, Stream stream)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        if (t.device_type == DeviceType.CPU && t.is_contiguous())
        {
            t.WriteBytesToStream(stream, 1 << 20);
            return;
        }
        using var scope = torch.NewDisposeScope();
        t.detach().cpu().contiguous().WriteBytesToStream(stream, 1 << 20);
    }
}
