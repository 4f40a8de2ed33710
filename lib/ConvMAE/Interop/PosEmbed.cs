using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>Resizing a learned position table to another token grid.</summary>
public static class PosEmbed
{
    /// <summary>
    /// The official <c>interpolate_pos_embed</c> (util/pos_embed.py), as the detection and segmentation loaders apply it:
    /// <paramref name="posEmbed"/> [1, extra + g², D] → [1, extra + newGrid², D]. The first <paramref name="extraTokens"/>
    /// rows (a cls token; ConvMAE has none) are kept as they are; the g×g grid (token l = h·g + w) is resized with
    /// bicubic interpolation, align_corners=False, in the table's own dtype. Returns a new tensor.
    /// </summary>
    public static Tensor Interpolate(Tensor posEmbed, int newGrid, int extraTokens = 0)
    {
        if (posEmbed.ndim != 3 || posEmbed.shape[0] != 1)
            throw new ArgumentException($"pos_embed must be [1,L,D], got {StateDict.FormatShape(posEmbed.shape)}");
        if (newGrid <= 0) throw new ArgumentOutOfRangeException(nameof(newGrid));
        long d = posEmbed.shape[2];
        long tokens = posEmbed.shape[1] - extraTokens;
        int grid = SquareRoot(tokens)
                   ?? throw new ArgumentException($"pos_embed {StateDict.FormatShape(posEmbed.shape)} with {extraTokens} extra tokens is not a square grid");

        using var scope = torch.NewDisposeScope();
        var extra = posEmbed[.., ..extraTokens];
        var pos = posEmbed[.., extraTokens..]
            .reshape(-1, grid, grid, d).permute(0, 3, 1, 2);                       // [1,D,g,g]
        var resized = nn.functional.interpolate(pos, size: [newGrid, newGrid],
            mode: InterpolationMode.Bicubic, align_corners: false);                 // [1,D,n,n]
        var flat = resized.permute(0, 2, 3, 1).flatten(1, 2);                       // [1,n²,D]
        return torch.cat([extra, flat], dim: 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The side of a square grid of <paramref name="tokens"/> tokens, or null when it is not a square.</summary>
    public static int? SquareRoot(long tokens)
    {
        if (tokens < 0) return null;
        long r = (long)Math.Round(Math.Sqrt(tokens));
        return r * r == tokens ? (int)r : null;
    }
}
