namespace ConvMAE.Tests.Augment;

/// <summary>A Random that hands out scripted values, so a test can fix each draw and compute the result by hand.
/// Running out of script fails the test (an unexpected extra draw).</summary>
sealed class ScriptedRandom(IEnumerable<double>? doubles = null, IEnumerable<int>? ints = null) : Random
{
    readonly Queue<double> _doubles = new(doubles ?? []);
    readonly Queue<int> _ints = new(ints ?? []);

    public override double NextDouble() => _doubles.Count > 0 ? _doubles.Dequeue() : throw new InvalidOperationException("no scripted double left");

    public override int Next(int minValue, int maxValue)
    {
        int v = _ints.Count > 0 ? _ints.Dequeue() : throw new InvalidOperationException("no scripted int left");
        if (v < minValue || v >= maxValue) throw new InvalidOperationException($"scripted {v} outside [{minValue}, {maxValue})");
        return v;
    }

    public override int Next(int maxValue) => Next(0, maxValue);

    public int DoublesLeft => _doubles.Count;
    public int IntsLeft => _ints.Count;
}

static class Images
{
    /// <summary>An image from per-pixel (r, g, b) triples, row-major.</summary>
    public static ConvMAE.Data.Rgb8Image FromPixels(int w, int h, params (int R, int G, int B)[] px)
    {
        var img = new ConvMAE.Data.Rgb8Image(w, h);
        for (int i = 0; i < px.Length; i++) { img.Data[3 * i] = (byte)px[i].R; img.Data[3 * i + 1] = (byte)px[i].G; img.Data[3 * i + 2] = (byte)px[i].B; }
        return img;
    }

    public static ConvMAE.Data.Rgb8Image Filled(int w, int h, byte r, byte g, byte b)
    {
        var img = new ConvMAE.Data.Rgb8Image(w, h);
        for (int i = 0; i < w * h; i++) { img.Data[3 * i] = r; img.Data[3 * i + 1] = g; img.Data[3 * i + 2] = b; }
        return img;
    }

    public static (int R, int G, int B) Px(ConvMAE.Data.Rgb8Image img, int x, int y) => (img[x, y, 0], img[x, y, 1], img[x, y, 2]);
}
