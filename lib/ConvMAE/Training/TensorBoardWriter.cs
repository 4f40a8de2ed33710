using System.Buffers.Binary;
using System.Text;

namespace ConvMAE.Training;

/// <summary>
/// Writes TensorBoard event files (scalars), readable by TensorBoard and tbparse without TensorFlow.
/// Format: TFRecord framing (u64 length, masked CRC-32C of the length, payload, masked CRC-32C of the payload)
/// around hand-encoded protobuf <c>Event</c> messages (wall_time=1, step=2, file_version=3, summary=5 →
/// Value{tag=1, simple_value=2}). Each record is flushed, so a killed run keeps everything written so far.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    readonly FileStream file;

    public string Path { get; }

    public TensorBoardWriter(string logDir)
    {
        Directory.CreateDirectory(logDir);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Path = System.IO.Path.Combine(logDir, $"events.out.tfevents.{now}.{Environment.MachineName}.{Environment.ProcessId}");
        file = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        Write(Event(WallTime(), 0, w => { w.Tag(3, 2); w.Bytes(Encoding.UTF8.GetBytes("brain.Event:2")); }));
    }

    public void Scalar(string tag, double value, long step) =>
        Write(Event(WallTime(), step, w =>
        {
            var v = new Proto();
            v.Tag(1, 2); v.Bytes(Encoding.UTF8.GetBytes(tag));
            v.Tag(2, 5); v.Fixed32(BitConverter.SingleToInt32Bits((float)value));
            var summary = new Proto();
            summary.Tag(1, 2); summary.Bytes(v.ToArray());
            w.Tag(5, 2); w.Bytes(summary.ToArray());
        }));

    static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    static byte[] Event(double wallTime, long step, Action<Proto> body)
    {
        var e = new Proto();
        e.Tag(1, 1); e.Fixed64(BitConverter.DoubleToInt64Bits(wallTime));
        e.Tag(2, 0); e.Varint((ulong)step);
        body(e);
        return e.ToArray();
    }

    void Write(byte[] payload)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(payload));
        file.Write(header);
        file.Write(payload);
        file.Write(footer);
        file.Flush();
    }

    public void Dispose() => file.Dispose();

    /// <summary>The few protobuf wire encodings an Event needs.</summary>
    sealed class Proto
    {
        readonly MemoryStream ms = new();
        public void Tag(int field, int wireType) => Varint((ulong)(field << 3 | wireType));
        public void Varint(ulong v)
        {
            while (v >= 0x80) { ms.WriteByte((byte)(v | 0x80)); v >>= 7; }
            ms.WriteByte((byte)v);
        }
        public void Fixed32(int v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); ms.Write(b); }
        public void Fixed64(long v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); ms.Write(b); }
        public void Bytes(byte[] data) { Varint((ulong)data.Length); ms.Write(data); }
        public byte[] ToArray() => ms.ToArray();
    }
}

/// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masking of it.</summary>
public static class Crc32C
{
    static readonly uint[] Table = Enumerable.Range(0, 256).Select(i =>
    {
        uint c = (uint)i;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}
