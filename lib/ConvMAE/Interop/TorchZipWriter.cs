using System.Buffers.Binary;
using System.Collections;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>
/// Writes a Python value as <c>torch.save</c> does (zip archive, pickle protocol 2), so that <c>torch.load</c> reads it:
/// <c>archive/data.pkl</c>, <c>archive/byteorder</c>, <c>archive/data/&lt;i&gt;</c> (one stored record per tensor), <c>archive/version</c>.
/// </summary>
internal static class TorchZipWriter
{
    public static void Write(Stream stream, object? root, string archiveName = "archive")
    {
        var pickler = new PickleWriter();
        byte[] pkl = pickler.Dump(root);
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        WriteEntry(zip, $"{archiveName}/data.pkl", s => s.Write(pkl));
        WriteEntry(zip, $"{archiveName}/byteorder", s => s.Write("little"u8));
        for (int i = 0; i < pickler.Tensors.Count; i++)
        {
            var t = pickler.Tensors[i];
            WriteEntry(zip, $"{archiveName}/data/{i}", s => TensorBytes.Write(t, s));
        }
        WriteEntry(zip, $"{archiveName}/version", s => s.Write("3\n"u8));
    }

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write)
    {
        // Stored, not deflated, like torch.save; fixed timestamp so equal content gives equal files.
        var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
        e.LastWriteTime = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var s = e.Open();
        write(s);
    }
}

/// <summary>
/// Pickle protocol 2 writer for the values a training checkpoint holds. <see cref="StateDict"/> is written as a
/// <c>collections.OrderedDict</c>, tensors as <c>torch._utils._rebuild_tensor_v2</c> over a persistent storage id,
/// <see cref="PyObject"/> (e.g. an argparse.Namespace) as class + NEWOBJ + BUILD. No memo is used.
/// </summary>
internal sealed class PickleWriter
{
    private readonly MemoryStream _out = new();

    /// <summary>The tensors in storage-key order (key = index).</summary>
    public List<Tensor> Tensors { get; } = new();

    public byte[] Dump(object? root)
    {
        _out.WriteByte(0x80); _out.WriteByte(2);    // PROTO 2
        Save(root);
        _out.WriteByte(0x2e);                        // STOP
        return _out.ToArray();
    }

    private void Op(byte b) => _out.WriteByte(b);

    private void Global(string module, string name)
    {
        Op(0x63);
        _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    private void Save(object? o)
    {
        switch (o)
        {
            case null: Op(0x4e); break;
            case bool b: Op(b ? (byte)0x88 : (byte)0x89); break;
            case string s: SaveString(s); break;
            case byte or sbyte or short or ushort or int or uint or long: SaveInt(Convert.ToInt64(o)); break;
            case ulong ul: SaveBig(new BigInteger(ul)); break;
            case BigInteger bi: SaveBig(bi); break;
            case float f: SaveFloat(f); break;
            case double d: SaveFloat(d); break;
            case decimal m: SaveFloat((double)m); break;
            case Tensor t: SaveTensor(t); break;
            case StateDict sd:
                Global("collections", "OrderedDict"); Op(0x29); Op(0x52);   // OrderedDict()
                SaveItems(sd.Select(kv => new KeyValuePair<object, object?>(kv.Key, kv.Value)), dictOnStack: true);
                break;
            case PyObject po:
                Global(po.Module, po.Name);
                SaveTuple(po.Args);
                Op(po.Args.Length == 0 ? (byte)0x81 : (byte)0x52);           // NEWOBJ cls() / REDUCE f(*args)
                if (po.State is not null) { Save(po.State); Op(0x62); }      // BUILD
                break;
            case byte[] bytes:
                // protocol 2 has no bytes opcode: Python writes _codecs.encode(latin1_str, 'latin1')
                Global("_codecs", "encode");
                SaveString(Encoding.Latin1.GetString(bytes)); SaveString("latin1");
                Op(0x86); Op(0x52);
                break;
            case object?[] tuple: SaveTuple(tuple); break;
            case TensorInfo ti:
                throw new ArgumentException($"cannot write {ti}: read the checkpoint with loadExtraTensors: true to keep it");
            case IDictionary dict:
                SaveItems(Entries(dict));
                break;
            case IEnumerable list:
                Op(0x5d);                                                    // EMPTY_LIST
                var items = list.Cast<object?>().ToList();
                if (items.Count > 0) { Op(0x28); foreach (var x in items) Save(x); Op(0x65); }   // MARK ... APPENDS
                break;
            default:
                throw new ArgumentException($"cannot pickle a {o.GetType().Name} ({o})");
        }
    }

    private static IEnumerable<KeyValuePair<object, object?>> Entries(IDictionary dict)
    {
        // IDictionaryEnumerator, not the enumerable's items (OrderedDictionary yields KeyValuePairs there).
        var e = dict.GetEnumerator();
        while (e.MoveNext()) yield return new(e.Key, e.Value);
    }

    /// <summary>Pushes an empty dict (unless one is already on the stack) and fills it with SETITEMS batches.</summary>
    private void SaveItems(IEnumerable<KeyValuePair<object, object?>> items, bool dictOnStack = false)
    {
        if (!dictOnStack) Op(0x7d);                          // EMPTY_DICT
        var list = items.ToList();
        for (int start = 0; start < list.Count; start += 1000)
        {
            Op(0x28);                                        // MARK
            foreach (var (k, v) in list.Skip(start).Take(1000)) { Save(k); Save(v); }
            Op(0x75);                                        // SETITEMS
        }
    }

    private void SaveTuple(object?[] t)
    {
        switch (t.Length)
        {
            case 0: Op(0x29); break;
            case 1: Save(t[0]); Op(0x85); break;
            case 2: Save(t[0]); Save(t[1]); Op(0x86); break;
            case 3: Save(t[0]); Save(t[1]); Save(t[2]); Op(0x87); break;
            default: Op(0x28); foreach (var x in t) Save(x); Op(0x74); break;
        }
    }

    private void SaveString(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        Op(0x58);                                            // BINUNICODE
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)b.Length);
        _out.Write(len);
        _out.Write(b);
    }

    private void SaveInt(long v)
    {
        if (v is >= 0 and <= 0xff) { Op(0x4b); Op((byte)v); }
        else if (v is >= 0 and <= 0xffff) { Op(0x4d); Op((byte)v); Op((byte)(v >> 8)); }
        else if (v is >= int.MinValue and <= int.MaxValue)
        {
            Op(0x4a);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            _out.Write(b);
        }
        else SaveBig(v);
    }

    private void SaveBig(BigInteger v)
    {
        var b = v.ToByteArray(isUnsigned: false, isBigEndian: false);
        if (b.Length > 255) throw new ArgumentException("integer too large to pickle");
        Op(0x8a); Op((byte)b.Length); _out.Write(b);        // LONG1
    }

    private void SaveFloat(double d)
    {
        Op(0x47);                                            // BINFLOAT (big-endian)
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, d);
        _out.Write(b);
    }

    private void SaveTensor(Tensor t)
    {
        string storage = t.dtype switch
        {
            ScalarType.Float64 => "DoubleStorage",
            ScalarType.Float32 => "FloatStorage",
            ScalarType.Float16 => "HalfStorage",
            ScalarType.BFloat16 => "BFloat16Storage",
            ScalarType.Int64 => "LongStorage",
            ScalarType.Int32 => "IntStorage",
            ScalarType.Int16 => "ShortStorage",
            ScalarType.Int8 => "CharStorage",
            ScalarType.Byte => "ByteStorage",
            ScalarType.Bool => "BoolStorage",
            ScalarType.ComplexFloat32 => "ComplexFloatStorage",
            ScalarType.ComplexFloat64 => "ComplexDoubleStorage",
            _ => throw new ArgumentException($"dtype {t.dtype} cannot be written to a torch checkpoint"),
        };
        int key = Tensors.Count;
        Tensors.Add(t);
        var shape = t.shape;
        var stride = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { stride[i] = acc; acc *= Math.Max(shape[i], 1); }

        Global("torch._utils", "_rebuild_tensor_v2");
        Op(0x28);                                            // MARK (args)
        Op(0x28);                                            //   MARK (persistent id)
        SaveString("storage"); Global("torch", storage); SaveString(key.ToString()); SaveString("cpu"); SaveInt(t.NumberOfElements);
        Op(0x74); Op(0x51);                                  //   TUPLE, BINPERSID
        SaveInt(0);                                          //   storage_offset (each tensor is written contiguous)
        SaveTuple(shape.Cast<object?>().ToArray());          //   size
        SaveTuple(stride.Cast<object?>().ToArray());         //   stride
        Op(0x89);                                            //   requires_grad=False, as in a state_dict
        Global("collections", "OrderedDict"); Op(0x29); Op(0x52);   // backward_hooks = OrderedDict()
        Op(0x74); Op(0x52);                                  // TUPLE, REDUCE
    }
}
