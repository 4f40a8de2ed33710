using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Support;

/// <summary>A minimal safetensors reader for the fixtures (F32, F64, I64, I32 only).</summary>
internal static class SafetensorsFile
{
    public static Dictionary<string, Tensor> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long n = BitConverter.ToInt64(bytes, 0);
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n));
        var result = new Dictionary<string, Tensor>();
        foreach (var e in doc.RootElement.EnumerateObject())
        {
            if (e.Name == "__metadata__") continue;
            var dtype = e.Value.GetProperty("dtype").GetString();
            var shape = e.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var off = e.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var span = bytes.AsSpan((int)(8 + n + off[0]), (int)(off[1] - off[0]));
            result[e.Name] = dtype switch
            {
                "F32" => tensor(MemoryMarshal.Cast<byte, float>(span).ToArray(), shape),
                "F64" => tensor(MemoryMarshal.Cast<byte, double>(span).ToArray(), shape),
                "I64" => tensor(MemoryMarshal.Cast<byte, long>(span).ToArray(), shape),
                "I32" => tensor(MemoryMarshal.Cast<byte, int>(span).ToArray(), shape),
                _ => throw new NotSupportedException($"{path}: tensor {e.Name} has dtype {dtype}"),
            };
        }
        return result;
    }
}
