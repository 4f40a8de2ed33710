using System.Buffers.Binary;
using System.Text;
using ConvMAE.Training;
using Xunit;

namespace ConvMAE.Tests.Training;

public class TensorBoardTests
{
    [Fact]
    public void Crc32C_matches_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));

    [Fact]
    public void Event_file_is_valid_TFRecord_with_the_scalars()
    {
        using var dir = TestPaths.Temp();
        string path;
        using (var w = new TensorBoardWriter(dir.Path))
        {
            w.Scalar("train/loss", 0.75, 10);
            w.Scalar("train/lr", 1e-4, 11);
            path = w.Path;
        }
        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(path));
        var bytes = File.ReadAllBytes(path);
        var records = new List<byte[]>();
        for (int o = 0; o < bytes.Length;)
        {
            ulong len = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(o));
            uint lenCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(o + 8));
            Assert.Equal(Mask(Crc32C.Compute(bytes.AsSpan(o, 8))), lenCrc);
            var payload = bytes.AsSpan(o + 12, (int)len).ToArray();
            Assert.Equal(Mask(Crc32C.Compute(payload)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(o + 12 + (int)len)));
            records.Add(payload);
            o += 12 + (int)len + 4;
        }
        Assert.Equal(3, records.Count);
        Assert.Contains("brain.Event:2", Encoding.ASCII.GetString(records[0]));
        // Event: field 2 (step) varint right after the 9-byte wall_time; summary value holds the tag and float.
        Assert.Equal(0x10, records[1][9]);
        Assert.Equal(10, records[1][10]);
        var text = Encoding.ASCII.GetString(records[1]);
        Assert.Contains("train/loss", text);
        int f = Array.LastIndexOf(records[1], (byte)0x15);
        Assert.Equal(0.75f, BitConverter.ToSingle(records[1], f + 1));
    }

    static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
