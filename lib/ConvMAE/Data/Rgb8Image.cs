namespace ConvMAE.Data;

/// <summary>
/// An 8-bit RGB image as a plain array, row-major, channels last: <c>Data[(y * Width + x) * 3 + c]</c>.
/// The data pipeline works on these between decoding and batching: pixel operations (RandAugment, flips) are
/// simple loops, worker threads need no native memory, and a batch is one copy into a uint8 tensor.
/// </summary>
public sealed class Rgb8Image
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Data { get; }

    public Rgb8Image(int width, int height, byte[]? data = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"image size must be positive, got {width}x{height}");
        Width = width;
        Height = height;
        Data = data ?? new byte[width * height * 3];
        if (Data.Length != width * height * 3)
            throw new ArgumentException($"pixel buffer holds {Data.Length} bytes, a {width}x{height} RGB image needs {width * height * 3}");
    }

    public byte this[int x, int y, int c]
    {
        get => Data[(y * Width + x) * 3 + c];
        set => Data[(y * Width + x) * 3 + c] = value;
    }

    public Rgb8Image Clone() => new(Width, Height, (byte[])Data.Clone());
}
