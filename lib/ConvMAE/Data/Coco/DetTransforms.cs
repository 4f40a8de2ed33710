using ConvMAE.Data.Segmentation;

namespace ConvMAE.Data.Coco;

/// <summary>
/// One image ready for the detector: RGB bytes [Size, Size, 3] (padded with 128 right and below the image), and for
/// training its instances: boxes x1,y1,x2,y2 [n·4], contiguous classes [n] and bitmasks [n, Size, Size].
/// <see cref="Scale"/> maps the original image to the input (input = original × Scale, before the crop offset).
/// </summary>
public sealed record DetSample(byte[] Pixels, int Size, float[] Boxes, long[] Classes, byte[] Masks, long ImageId, int Height, int Width,
                               double Scale, string Name)
{
    public int InstanceCount => Classes.Length;
}

/// <summary>
/// The official transforms (convmae_base_mask_rcnn_FPN_100ep.py, detectron2's LSJ): training ResizeScale(0.1–2.0 of
/// Size) → FixedSizeCrop(Size, pad 128) → RandomFlip, boxes recomputed from the masks (recompute_boxes) and empty instances
/// dropped; test ResizeShortestEdge(Size, max Size) → FixedSizeCrop (only pads: the longer side is Size).
///
/// Departures, said here: masks are carried as bitmasks (detectron2 carries polygons and rasterises them per RoI), so
/// a mask is resized with nearest-neighbour sampling; the image is resized bilinearly without PIL's antialiasing on
/// downscaling. Boxes from bitmasks use BitMasks.get_bounding_boxes' convention (x2 = last column + 1).
/// </summary>
public sealed record DetPipeline(int Size = 1024, double MinScale = 0.1, double MaxScale = 2.0, byte PadValue = 128, bool Flip = true)
{
    public DetSample Train(DetImage d, Random rng)
    {
        int w = d.Image.Width, h = d.Image.Height;
        var objects = d.Instances.Where(i => !i.IsCrowd).ToList();      // DatasetMapper: iscrowd == 0 only
        var pixels = d.Image.Data;
        var masks = objects.Select(o => CocoMasks.ToRle(o.Segmentation, h, w).Decode()).ToList();
        // ResizeScale: a target square of Size × U(min, max), the image fitted inside it keeping its aspect.
        double s = MinScale + rng.NextDouble() * (MaxScale - MinScale);
        double target = Size * s;
        double scale = Math.Min(target / h, target / w);
        int nh = Math.Max(1, (int)Math.Round(h * scale)), nw = Math.Max(1, (int)Math.Round(w * scale));
        pixels = SegPipeline.ResizeBilinear(pixels, w, h, nw, nh);
        masks = masks.Select(m => SegPipeline.ResizeNearest(m, w, h, nw, nh)).ToList();
        // FixedSizeCrop: a random window where the image is larger than Size, then padding to Size × Size.
        int offX = (int)Math.Round(Math.Max(nw - Size, 0) * rng.NextDouble()), offY = (int)Math.Round(Math.Max(nh - Size, 0) * rng.NextDouble());
        var canvas = Canvas(pixels, nw, nh, offX, offY, PadValue, 3);
        // RandomFlip comes last in the official list, so it mirrors the padded canvas: the padding moves to the left.
        bool flip = Flip && rng.NextDouble() < 0.5;
        if (flip) canvas = SegPipeline.FlipH(canvas, Size, Size, 3);
        var boxes = new List<float>(); var classes = new List<long>(); var kept = new List<byte[]>();
        for (int i = 0; i < objects.Count; i++)
        {
            var m = Canvas(masks[i], nw, nh, offX, offY, 0, 1);
            if (flip) m = SegPipeline.FlipH(m, Size, Size, 1);
            if (Bounds(m, Size) is not { } b) continue;                  // cropped away or resized to nothing
            boxes.AddRange(b); classes.Add(objects[i].Class); kept.Add(m);
        }
        var all = new byte[kept.Count * Size * Size];
        for (int i = 0; i < kept.Count; i++) Buffer.BlockCopy(kept[i], 0, all, i * Size * Size, Size * Size);
        return new DetSample(canvas, Size, [.. boxes], [.. classes], all, d.Info.Id, h, w, scale, d.Info.FileName);
    }

    /// <summary>ResizeShortestEdge(Size, max_size Size): the longer side becomes Size (int(x + 0.5) as detectron2), padded.</summary>
    public DetSample Test(DetImage d)
    {
        int w = d.Image.Width, h = d.Image.Height;
        double scale = (double)Size / Math.Min(h, w);
        if (Math.Max(h, w) * scale > Size) scale = (double)Size / Math.Max(h, w);
        int nh = Math.Min(Size, (int)(h * scale + 0.5)), nw = Math.Min(Size, (int)(w * scale + 0.5));
        var pixels = SegPipeline.ResizeBilinear(d.Image.Data, w, h, nw, nh);
        return new DetSample(Canvas(pixels, nw, nh, 0, 0, PadValue, 3), Size, [], [], [], d.Info.Id, h, w, scale, d.Info.FileName);
    }

    /// <summary>The Size×Size window at (offX, offY) of a w×h array of <paramref name="channels"/> bytes per pixel, padded with <paramref name="pad"/>.</summary>
    byte[] Canvas(byte[] a, int w, int h, int offX, int offY, byte pad, int channels)
    {
        var r = new byte[Size * Size * channels];
        if (pad != 0) Array.Fill(r, pad);
        int cw = Math.Min(Size, w - offX), ch = Math.Min(Size, h - offY);
        for (int y = 0; y < ch; y++)
            Buffer.BlockCopy(a, ((offY + y) * w + offX) * channels, r, y * Size * channels, cw * channels);
        return r;
    }

    /// <summary>x1, y1, x2 + 1, y2 + 1 of the set pixels of an S×S mask; null when none is set.</summary>
    static float[]? Bounds(byte[] m, int s)
    {
        int x1 = s, y1 = s, x2 = -1, y2 = -1;
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                if (m[y * s + x] != 0)
                {
                    if (x < x1) x1 = x;
                    if (x > x2) x2 = x;
                    if (y < y1) y1 = y;
                    y2 = y;
                }
        return x2 < 0 ? null : [x1, y1, x2 + 1, y2 + 1];
    }
}
