using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace ConvMAE.Interop;

/// <summary>Raised by <see cref="PickleReader"/> for a malformed or truncated pickle; turned into a
/// <see cref="CheckpointException"/> by the caller, which knows the file name.</summary>
internal sealed class PickleFormatException(string message, bool truncated = false) : Exception(message)
{
    public bool Truncated { get; } = truncated;
}

/// <summary>
/// A pickle reader (protocols 0-5) that never executes anything: globals are resolved against a short list of
/// known torch/collections callables implemented here, and every other class becomes an inert
/// <see cref="PyObject"/>. Tensors are built through the callbacks the caller supplies.
/// </summary>
internal sealed class PickleReader
{
    /// <summary>Called for BINPERSID/PERSID with the persistent id (for torch.save: a tuple
    /// ('storage', storage_type, key, location, numel)); returns the object the id stands for.</summary>
    public required Func<object?, object?> PersistentLoad { get; init; }

    /// <summary>Called for torch._utils._rebuild_tensor(_v2): (storage, storage_offset, size, stride) → tensor.</summary>
    public required Func<object?, long, long[], long[], object> RebuildTensor { get; init; }

    private readonly byte[] _data;
    private int _pos;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();

    public PickleReader(byte[] data) => _data = data;

    private static readonly object Mark = new();

    public object? Load()
    {
        while (true)
        {
            int at = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    int proto = ReadByte();
                    if (proto > 5) throw new PickleFormatException($"pickle protocol {proto} is newer than 5");
                    break;
                case 0x95: Skip(8); break;                     // FRAME: length is informative only
                case 0x2e: return PopValue();                  // STOP

                // ---- stack and mark
                case 0x28: _marks.Push(_stack.Count); break;   // MARK
                case 0x30: PopValue(); break;                  // POP
                case 0x31: PopMark(); break;                   // POP_MARK
                case 0x32: Push(Peek()); break;                // DUP

                // ---- scalars
                case 0x4e: Push(null); break;                  // NONE
                case 0x88: Push(true); break;                  // NEWTRUE
                case 0x89: Push(false); break;                 // NEWFALSE
                case 0x4a: Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;   // BININT
                case 0x4b: Push((long)ReadByte()); break;                                         // BININT1
                case 0x4d: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;  // BININT2
                case 0x8a: Push(ReadLong(ReadByte())); break;                                     // LONG1
                case 0x8b: Push(ReadLong(ReadLength4())); break;                                  // LONG4
                case 0x47: Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;           // BINFLOAT
                case 0x49: Push(ParseTextInt(ReadLine())); break;                                 // INT
                case 0x4c: Push(ParseTextLong(ReadLine())); break;                                // LONG
                case 0x46: Push(double.Parse(ReadLine(), System.Globalization.CultureInfo.InvariantCulture)); break; // FLOAT

                // ---- strings and bytes
                case 0x58: Push(Encoding.UTF8.GetString(Take(ReadLength4()))); break;            // BINUNICODE
                case 0x8c: Push(Encoding.UTF8.GetString(Take(ReadByte()))); break;               // SHORT_BINUNICODE
                case 0x8d: Push(Encoding.UTF8.GetString(Take(ReadLength8()))); break;            // BINUNICODE8
                case 0x56: Push(ReadLine()); break;                                               // UNICODE (raw-unicode-escape; ASCII in practice)
                case 0x54: Push(Encoding.Latin1.GetString(Take(ReadLength4()))); break;          // BINSTRING (py2 str)
                case 0x55: Push(Encoding.Latin1.GetString(Take(ReadByte()))); break;             // SHORT_BINSTRING
                case 0x53: Push(ParseTextString(ReadLine())); break;                              // STRING
                case 0x42: Push(Take(ReadLength4()).ToArray()); break;                            // BINBYTES
                case 0x43: Push(Take(ReadByte()).ToArray()); break;                               // SHORT_BINBYTES
                case 0x8e: Push(Take(ReadLength8()).ToArray()); break;                            // BINBYTES8
                case 0x96: Push(Take(ReadLength8()).ToArray()); break;                            // BYTEARRAY8

                // ---- containers
                case 0x29: Push(Array.Empty<object?>()); break;                                  // EMPTY_TUPLE
                case 0x74: Push(PopMark().ToArray()); break;                                      // TUPLE
                case 0x85: { var a = PopValue(); Push(new[] { a }); break; }                      // TUPLE1
                case 0x86: { var b = PopValue(); var a = PopValue(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = PopValue(); var b = PopValue(); var a = PopValue(); Push(new[] { a, b, c }); break; } // TUPLE3
                case 0x5d: Push(new List<object?>()); break;                                      // EMPTY_LIST
                case 0x6c: Push(PopMark()); break;                                                // LIST
                case 0x61: { var v = PopValue(); ListAt(Peek(), op).Add(v); break; }              // APPEND
                case 0x65: { var items = PopMark(); ListAt(Peek(), op).AddRange(items); break; }  // APPENDS
                case 0x7d: Push(new PyDict()); break;                                             // EMPTY_DICT
                case 0x64: { var items = PopMark(); var d = new PyDict(); SetItems(d, items); Push(d); break; } // DICT
                case 0x73: { var v = PopValue(); var k = PopValue(); DictAt(Peek())[Key(k)] = v; break; }      // SETITEM
                case 0x75: { var items = PopMark(); SetItems(DictAt(Peek()), items); break; }     // SETITEMS
                case 0x8f: Push(new List<object?>()); break;                                      // EMPTY_SET
                case 0x90: { var items = PopMark(); ListAt(Peek(), op).AddRange(items); break; }  // ADDITEMS
                case 0x91: Push(PopMark()); break;                                                // FROZENSET

                // ---- memo
                case 0x71: _memo[ReadByte()] = Peek(); break;                                     // BINPUT
                case 0x72: _memo[ReadLength4()] = Peek(); break;                                  // LONG_BINPUT
                case 0x70: _memo[ParseMemoIndex(ReadLine())] = Peek(); break;                       // PUT
                case 0x94: _memo[_memo.Count] = Peek(); break;                                    // MEMOIZE
                case 0x68: Push(MemoGet(ReadByte())); break;                                      // BINGET
                case 0x6a: Push(MemoGet(ReadLength4())); break;                                   // LONG_BINGET
                case 0x67: Push(MemoGet(ParseMemoIndex(ReadLine()))); break;                        // GET

                // ---- objects (resolved to inert data; nothing runs)
                case 0x63: { var module = ReadLine(); var name = ReadLine(); Push(new PyGlobal(module, name)); break; } // GLOBAL
                case 0x93: { var name = PopValue(); var module = PopValue();                      // STACK_GLOBAL
                             Push(new PyGlobal(AsString(module, "STACK_GLOBAL"), AsString(name, "STACK_GLOBAL"))); break; }
                case 0x52: { var args = PopValue(); var f = PopValue(); Push(Call(f, Tuple(args, "REDUCE"))); break; }   // REDUCE
                case 0x81: { var args = PopValue(); var cls = PopValue(); Push(Call(cls, Tuple(args, "NEWOBJ"))); break; } // NEWOBJ
                case 0x92: { PopValue(); var args = PopValue(); var cls = PopValue(); Push(Call(cls, Tuple(args, "NEWOBJ_EX"))); break; } // NEWOBJ_EX (kwargs dropped)
                case 0x69: { var module = ReadLine(); var name = ReadLine(); var args = PopMark();  // INST
                             Push(Call(new PyGlobal(module, name), args.ToArray())); break; }
                case 0x6f: { var items = PopMark(); if (items.Count == 0) throw Bad("OBJ without a class", at); // OBJ
                             Push(Call(items[0], items.Skip(1).ToArray())); break; }
                case 0x62: { var state = PopValue(); Build(Peek(), state); break; }               // BUILD
                case 0x51: Push(PersistentLoad(PopValue())); break;                               // BINPERSID
                case 0x50: Push(PersistentLoad(ReadLine())); break;                               // PERSID
                case 0x82: case 0x83: case 0x84:
                    throw Bad("extension registry opcodes (EXT1/2/4) are not supported", at);
                case 0x97: case 0x98:
                    throw Bad("out-of-band buffers (protocol 5 NEXT_BUFFER) are not supported", at);
                default:
                    throw Bad($"unknown pickle opcode 0x{op:x2}", at);
            }
        }
    }

    // ------------------------------------------------------------------ known callables

    private object? Call(object? callable, object?[] args)
    {
        if (callable is not PyGlobal g)
            throw new PickleFormatException($"pickle calls a {TypeName(callable)}, not a class or function");
        switch (g.FullName)
        {
            case "collections.OrderedDict":
            {
                var d = new PyDict();
                if (args.Length > 0 && args[0] is IEnumerable<object?> pairs)
                    foreach (var p in pairs)
                        if (p is object?[] { Length: 2 } kv) d[Key(kv[0])] = kv[1];
                        else if (p is List<object?> { Count: 2 } kl) d[Key(kl[0])] = kl[1];
                return d;
            }
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
            {
                if (args.Length < 4) throw new PickleFormatException($"{g.Name} with {args.Length} arguments");
                return RebuildTensor(args[0], AsLong(args[1], "storage_offset"), Longs(args[2], "size"), Longs(args[3], "stride"));
            }
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                // nn.Parameter(data, requires_grad): the data tensor is all a state dict needs.
                return args.Length > 0 ? args[0] : throw new PickleFormatException($"{g.Name} without data");
            case "torch.Size":
            case "builtins.tuple":
            case "__builtin__.tuple":
                return args.Length > 0 && args[0] is IEnumerable<object?> e ? e.ToArray() : Array.Empty<object?>();
            case "builtins.list":
            case "builtins.set":
            case "builtins.frozenset":
            case "__builtin__.set":
                return args.Length > 0 && args[0] is IEnumerable<object?> l ? l.ToList() : new List<object?>();
            case "builtins.bytearray":
            case "builtins.bytes":
            case "_codecs.encode":
                return args.Length > 0 && args[0] is string s ? Encoding.Latin1.GetBytes(s)
                     : args.Length > 0 && args[0] is byte[] b ? b : Array.Empty<byte>();
            default:
                if (g.Module.StartsWith("torch._utils", StringComparison.Ordinal) && g.Name.StartsWith("_rebuild", StringComparison.Ordinal))
                    throw new PickleFormatException($"tensor kind {g.FullName} (quantized, sparse, meta, ...) is not supported");
                return new PyObject(g.Module, g.Name) { Args = args };
        }
    }

    private static void Build(object? target, object? state)
    {
        switch (target)
        {
            case PyObject o:
                o.State = state;
                break;
            case PyDict d:
                // OrderedDict.__reduce__ gives (cls, (), instance __dict__, ...): e.g. {'_metadata': ...}
                if (state is PyDict attrs)
                    foreach (var (k, v) in attrs) d.Attributes[k?.ToString() ?? ""] = v;
                else if (state is object?[] { Length: 2 } pair && pair[0] is PyDict a0)
                    foreach (var (k, v) in a0) d.Attributes[k?.ToString() ?? ""] = v;
                break;
            default:
                // State on a tensor or container (e.g. tensor subclasses' __dict__): not part of the values; ignored.
                break;
        }
    }

    // ------------------------------------------------------------------ helpers

    private void Push(object? o) => _stack.Add(o);

    private object? Peek()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks.Peek() == _stack.Count))
            throw new PickleFormatException("pickle stack underflow");
        return _stack[^1];
    }

    private object? PopValue()
    {
        var v = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw new PickleFormatException("pickle MARK missing");
        int m = _marks.Pop();
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private object? MemoGet(long i) =>
        _memo.TryGetValue(i, out var v) ? v : throw new PickleFormatException($"pickle memo key {i} is not defined");

    private static void SetItems(PyDict d, List<object?> items)
    {
        if (items.Count % 2 != 0) throw new PickleFormatException("odd number of items for a dict");
        for (int i = 0; i < items.Count; i += 2) d[Key(items[i])] = items[i + 1];
    }

    private static object Key(object? k) => k ?? throw new PickleFormatException("dict key None is not supported");

    private static PyDict DictAt(object? o) =>
        o as PyDict ?? throw new PickleFormatException($"SETITEM(S) on a {TypeName(o)}");

    private static List<object?> ListAt(object? o, byte op) =>
        o as List<object?> ?? throw new PickleFormatException($"opcode 0x{op:x2} on a {TypeName(o)}");

    private static object?[] Tuple(object? o, string op) =>
        o switch
        {
            object?[] t => t,
            List<object?> l => l.ToArray(),
            _ => throw new PickleFormatException($"{op} arguments are a {TypeName(o)}, not a tuple"),
        };

    internal static string TypeName(object? o) => o switch
    {
        null => "None",
        PyGlobal g => g.FullName,
        PyObject p => p.FullName,
        PyDict => "dict",
        object?[] => "tuple",
        List<object?> => "list",
        string => "str",
        long or BigInteger => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        _ => o.GetType().Name,
    };

    private static string AsString(object? o, string what) =>
        o as string ?? throw new PickleFormatException($"{what}: expected a str, got a {TypeName(o)}");

    private static long AsLong(object? o, string what) =>
        o is long l ? l : throw new PickleFormatException($"{what}: expected an int, got a {TypeName(o)}");

    private static long[] Longs(object? o, string what) =>
        o is IEnumerable<object?> e ? e.Select(x => AsLong(x, what)).ToArray()
            : throw new PickleFormatException($"{what}: expected a tuple of ints, got a {TypeName(o)}");

    private byte ReadByte()
    {
        if (_pos >= _data.Length) throw new PickleFormatException("pickle ends before STOP", truncated: true);
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _data.Length - _pos)
            throw new PickleFormatException($"pickle ends inside a {n}-byte value", truncated: true);
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private void Skip(int n) => Take(n);

    private int ReadLength4()
    {
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        return n > int.MaxValue ? throw new PickleFormatException($"pickle length {n} too large") : (int)n;
    }

    private long ReadLength8()
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        return n > int.MaxValue ? throw new PickleFormatException($"pickle length {n} too large") : (long)n;
    }

    private object ReadLong(int n)
    {
        var b = Take(n);
        if (n == 0) return 0L;
        var v = new BigInteger(b, isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }

    private string ReadLine()
    {
        int nl = Array.IndexOf(_data, (byte)'\n', _pos);
        if (nl < 0) throw new PickleFormatException("pickle ends inside a text argument", truncated: true);
        var s = Encoding.UTF8.GetString(_data, _pos, nl - _pos);
        _pos = nl + 1;
        return s;
    }

    private static object ParseTextInt(string s) => s switch
    {
        "00" => false,
        "01" => true,
        _ => long.TryParse(s, out var l) ? l : throw new PickleFormatException($"bad INT '{s}'"),
    };

    private static object ParseTextLong(string s)
    {
        s = s.TrimEnd('L');
        var v = BigInteger.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }

    private static string ParseTextString(string s) =>
        s.Length >= 2 && (s[0] == '\'' || s[0] == '"') && s[^1] == s[0] ? s[1..^1] : s;

    private PickleFormatException Bad(string what, int at) => new($"{what} at byte {at} of the pickle");

    private static long ParseMemoIndex(string s) =>
        long.TryParse(s, out var l) ? l : throw new PickleFormatException($"bad memo index '{s}'");
}
