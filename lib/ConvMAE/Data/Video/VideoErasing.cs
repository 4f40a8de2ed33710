using static TorchSharp.torch;

namespace ConvMAE.Data.Video;

/// <summary>How a clip's erased boxes relate across its frames.</summary>
public enum ClipEraseBoxes
{
    /// <summary>
    /// VideoMAE as released (random_erasing.py:58 defaults cube=True, and _aug_frame, kinetics.py:207-217, does not
    /// change it): ONE probability draw per clip and ONE box (size and position, up to 100 attempts) shared by every
    /// frame, a tube through time; the fill is drawn afresh per frame ('pixel' noise differs frame to frame).
    /// </summary>
    Cube,
    /// <summary>
    /// timm's RandomErasing on the clip permuted to [T,C,H,W] (what the same permute does with timm's class, or
    /// VideoMAE's with cube=False): every frame is an "image" of its own, with its own probability draw and its own
    /// box (up to 10 attempts), so the erased box jumps from frame to frame.
    /// </summary>
    PerFrame,
}

/// <summary>
/// Random erasing of normalised clips [B,3,T,H,W], in place, each clip with its own Random (so a clip's erasing does not
/// depend on how the batch was put together). The parameters are the kit's <see cref="RandomErasing"/>
/// (VideoMAE builds RandomErasing(reprob, mode=remode, max_count=recount, num_splits=recount)).
/// Quirk kept from VideoMAE (kinetics.py:211, random_erasing.py:157-159): num_splits = recount, and the frames are the
/// "batch", so with recount &gt; 1 the first T // recount FRAMES of every clip are never erased.
/// </summary>
public static class VideoErasing
{
    /// <summary>VideoMAE's erasing from its flags: --reprob (0.25), --remode ('pixel'), --recount (1).</summary>
    public static RandomErasing FromArgs(double reprob = 0.25, string remode = "pixel", int recount = 1) =>
        new(reprob, mode: RandomErasing.ParseMode(remode), maxCount: recount, numSplits: recount);

    /// <summary>Erases every clip of <paramref name="clips"/> [B,3,T,H,W] in place; returns, per clip, the erased boxes
    /// of each frame.</summary>
    public static List<EraseBox>[][] Apply(Tensor clips, RandomErasing erasing, IReadOnlyList<Random> rngs, ClipEraseBoxes boxes = ClipEraseBoxes.Cube)
    {
        if (clips.dim() != 5 || clips.shape[1] != 3) throw new ArgumentException($"expected clips [B,3,T,H,W], got [{string.Join(",", clips.shape)}]");
        if (rngs.Count != clips.shape[0]) throw new ArgumentException($"{rngs.Count} Randoms for {clips.shape[0]} clips");
        var result = new List<EraseBox>[clips.shape[0]][];
        for (int b = 0; b < clips.shape[0]; b++)
        {
            using var clip = clips[b];
            result[b] = boxes == ClipEraseBoxes.Cube ? EraseCube(clip, erasing, rngs[b]) : ErasePerFrame(clip, erasing, rngs[b]);
        }
        return result;
    }

    static int FirstErased(RandomErasing e, int frames) => e.NumSplits > 1 ? frames / e.NumSplits : 0;

    /// <summary>timm/VideoMAE _erase per frame: the kit's RandomErasing on each [3,H,W] frame slice.</summary>
    static List<EraseBox>[] ErasePerFrame(Tensor clip, RandomErasing e, Random rng)
    {
        int t = (int)clip.shape[1];
        var boxes = new List<EraseBox>[t];
        for (int f = 0; f < t; f++)
        {
            if (f < FirstErased(e, t)) { boxes[f] = []; continue; }
            using var frame = clip.select(1, f);                       // [3,H,W] view of frame f
            boxes[f] = e.EraseImage(frame, rng);
        }
        return boxes;
    }

    /// <summary>VideoMAE's _erase_cube (random_erasing.py:109-148): one coin, one box per count, every frame.</summary>
    static List<EraseBox>[] EraseCube(Tensor clip, RandomErasing e, Random rng)
    {
        int c = (int)clip.shape[0], t = (int)clip.shape[1], ih = (int)clip.shape[2], iw = (int)clip.shape[3];
        var cube = new List<EraseBox>();
        if (rng.NextDouble() <= e.Probability)
        {
            double area = (double)ih * iw;
            int count = e.MinCount == e.MaxCount ? e.MinCount : rng.RandIntInclusive(e.MinCount, e.MaxCount);
            for (int k = 0; k < count; k++)
                for (int attempt = 0; attempt < 100; attempt++)
                {
                    double target = rng.Uniform(e.MinArea, e.MaxArea) * area / count;
                    double aspect = Math.Exp(rng.Uniform(e.LogAspectRatio.Min, e.LogAspectRatio.Max));
                    int h = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
                    int w = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
                    if (w < iw && h < ih)
                    {
                        cube.Add(new EraseBox(rng.RandIntInclusive(0, ih - h), rng.RandIntInclusive(0, iw - w), h, w));
                        break;
                    }
                }
        }
        var boxes = new List<EraseBox>[t];
        for (int f = 0; f < t; f++) boxes[f] = f < FirstErased(e, t) ? [] : cube;
        foreach (var box in cube)
        {
            if (box.Height == 0 || box.Width == 0) continue;
            for (int f = FirstErased(e, t); f < t; f++)
            {
                using var scope = NewDisposeScope();
                var region = clip.select(1, f).narrow(1, box.Top, box.Height).narrow(2, box.Left, box.Width);
                if (e.Mode == EraseMode.Const) { region.zero_(); continue; }
                using var gen = new Generator((ulong)rng.NextInt64(), CPU);   // fresh fill per frame, as _get_pixels per frame
                long[] shape = e.Mode == EraseMode.Pixel ? [c, box.Height, box.Width] : [c, 1, 1];
                region.copy_(randn(shape, dtype: ScalarType.Float32, generator: gen).to(clip.dtype, clip.device));
            }
        }
        return boxes;
    }
}
