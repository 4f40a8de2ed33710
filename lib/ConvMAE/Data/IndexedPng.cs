using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ConvMAE.Data;

/// <summary>A label map: one byte per pixel (class index or 255), row-major.</summary>
public sealed record LabelMap(int Width, int Height, byte[] Values)
{
    public byte this[int x, int y] => Values[y * Width + x];
}

/// <summary>
/// Reads and writes single-channel 8-bit PNGs as raw values: greyscale values, or the palette INDICES of a palette
/// image, as PIL gives them (mmseg reads ADE20K annotations with PIL, flag 'unchanged'). A general image decoder
/// would turn a palette image into colours, which is why label maps get their own reader. Errors name the file.
/// </summary>
public static class IndexedPng
{
    static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static LabelMap Read(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new BadSampleException(path, $"cannot read: {e.Message}", e); }
        return Decode(data, path);
    }

    public static LabelMap Decode(byte[] data, string name)
    {
        if (data.Length < 8 || !data.AsSpan(0, 8).SequenceEqual(Signature)) throw new BadSampleException(name, "not a PNG file");
        int width = 0, height = 0, bitDepth = 0, colorType = -1, interlace = 0;
        using var idat = new MemoryStream();
        bool ended = false;
        for (int o = 8; o + 8 <= data.Length;)
        {
            int len = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(o));
            string type = Encoding.ASCII.GetString(data, o + 4, 4);
            if (len < 0 || o + 12 + len > data.Length) throw new BadSampleException(name, $"truncated PNG (chunk {type} runs past the end of the file)");
            var body = data.AsSpan(o + 8, len);
            switch (type)
            {
                case "IHDR":
                    width = (int)BinaryPrimitives.ReadUInt32BigEndian(body);
                    height = (int)BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
                    bitDepth = body[8]; colorType = body[9]; interlace = body[12];
                    break;
                case "IDAT": idat.Write(body); break;
                case "IEND": ended = true; break;
            }
            o += 12 + len;
            if (ended) break;
        }
        if (!ended) throw new BadSampleException(name, "truncated PNG (no IEND chunk)");
        if (colorType is not (0 or 3) || bitDepth != 8)
            throw new BadSampleException(name, $"a label map must be an 8-bit greyscale or palette PNG (colour type {colorType}, bit depth {bitDepth})");
        if (interlace != 0) throw new BadSampleException(name, "interlaced PNG label maps are not supported");
        if (width <= 0 || height <= 0) throw new BadSampleException(name, $"invalid size {width}×{height}");
        var raw = new byte[(long)(width + 1) * height];
        try
        {
            idat.Position = 0;
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            int read = 0, n;
            while (read < raw.Length && (n = z.Read(raw, read, raw.Length - read)) > 0) read += n;
            if (read < raw.Length) throw new BadSampleException(name, "truncated PNG (image data ends early)");
        }
        catch (InvalidDataException e) { throw new BadSampleException(name, $"corrupt PNG data: {e.Message}", e); }
        return new LabelMap(width, height, Unfilter(raw, width, height, name));
    }

    /// <summary>Undoes PNG's per-row filters (one byte per pixel).</summary>
    static byte[] Unfilter(byte[] raw, int width, int height, string name)
    {
        var pixels = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (width + 1)];
            var row = raw.AsSpan(y * (width + 1) + 1, width);
            var cur = pixels.AsSpan(y * width, width);
            ReadOnlySpan<byte> prev = y > 0 ? pixels.AsSpan((y - 1) * width, width) : new byte[width];
            for (int x = 0; x < width; x++)
            {
                int a = x > 0 ? cur[x - 1] : 0, b = prev[x], c = x > 0 ? prev[x - 1] : 0;
                cur[x] = filter switch
                {
                    0 => row[x],
                    1 => (byte)(row[x] + a),
                    2 => (byte)(row[x] + b),
                    3 => (byte)(row[x] + (a + b) / 2),
                    4 => (byte)(row[x] + Paeth(a, b, c)),
                    _ => throw new BadSampleException(name, $"unknown PNG filter {filter} in row {y}"),
                };
            }
        }
        return pixels;
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Writes an 8-bit greyscale PNG holding the values as they are (atomically).</summary>
    public static void Write(string path, LabelMap map)
    {
        var raw = new byte[(long)(map.Width + 1) * map.Height];
        for (int y = 0; y < map.Height; y++)
            Buffer.BlockCopy(map.Values, y * map.Width, raw, y * (map.Width + 1) + 1, map.Width);   // filter 0
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write(raw);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)map.Width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)map.Height);
        ihdr[8] = 8; ihdr[9] = 0;   // 8-bit greyscale; compression, filter, interlace 0
        Interop.AtomicFile.Write(path, s =>
        {
            s.Write(Signature);
            Chunk(s, "IHDR", ihdr);
            Chunk(s, "IDAT", z.ToArray());
            Chunk(s, "IEND", []);
        });
    }

    static void Chunk(Stream s, string type, byte[] body)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)body.Length);
        Encoding.ASCII.GetBytes(type, head.AsSpan(4));
        s.Write(head);
        s.Write(body);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(head.AsSpan(4), body));
        s.Write(crc);
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in type) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        foreach (var b in body) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
