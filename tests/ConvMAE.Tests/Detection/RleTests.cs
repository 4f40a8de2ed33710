using ConvMAE.Data.Coco;
using Xunit;

namespace ConvMAE.Tests.Detection;

/// <summary>COCO's RLE mask code, checked against values worked out by hand from maskApi.c's definitions.</summary>
public class RleTests
{
    static byte[] B(params int[] v) => v.Select(x => (byte)x).ToArray();

    [Fact]
    public void Encoding_runs_down_columns_starting_with_zeros()
    {
        // Row-major 3×2 mask [[0,1],[1,1],[0,0]]; column-major it reads 0 1 0 | 1 1 0 → runs 1,1,1,2,1.
        var rle = Rle.Encode(B(0, 1, 1, 1, 0, 0), 3, 2);
        Assert.Equal([1u, 1, 1, 2, 1], rle.Counts);
        Assert.Equal(3u, rle.Area());
        Assert.Equal([0.0, 0, 2, 2], rle.ToBbox());
        Assert.Equal(B(0, 1, 1, 1, 0, 0), rle.Decode());
        // A mask that starts with foreground has an empty first run.
        Assert.Equal([0u, 2, 4], Rle.Encode(B(1, 0, 1, 0, 0, 0), 3, 2).Counts);
        Assert.Equal([0.0, 0, 0, 0], Rle.Encode(new byte[6], 3, 2).ToBbox());
    }

    [Fact]
    public void Random_masks_round_trip_through_counts_and_the_compressed_string()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            int h = rng.Next(1, 40), w = rng.Next(1, 40);
            var mask = new byte[h * w];
            for (int i = 0; i < mask.Length; i++) mask[i] = (byte)(rng.NextDouble() < 0.3 ? 1 : 0);
            var rle = Rle.Encode(mask, h, w);
            Assert.Equal(mask, rle.Decode());
            Assert.Equal((uint)mask.Count(x => x == 1), rle.Area());
            var back = Rle.FromCompressedString(rle.ToCompressedString(), h, w);
            Assert.Equal(rle.Counts, back.Counts);
        }
    }

    [Fact]
    public void Compressed_string_is_cocos_6_bit_code_with_deltas_from_the_fourth_count()
    {
        // Counts 1,1,1,2,1: the first three are stored as they are ('1' = 48+1); from i=3 on, the difference from the
        // count two before: 2-1 = 1 → '1', 1-1 = 0 → '0'.
        Assert.Equal("11110", new Rle(3, 2, [1, 1, 1, 2, 1]).ToCompressedString());
        // Negative deltas: 2-3 = -1 is the 5-bit group 31 with the sign bit set and no continuation → 48+31 = 'O'.
        Assert.Equal("531O8O", new Rle(1, 21, [5, 3, 1, 2, 9, 1]).ToCompressedString());
        // 40 needs two groups: low 5 bits 8 with the continuation bit (8|32 = 40 → 'X'), then 1 → '1'.
        Assert.Equal("X1", new Rle(1, 40, [40]).ToCompressedString());
        Assert.Equal([5u, 3, 1, 2, 9, 1], Rle.FromCompressedString("531O8O", 1, 21).Counts);
        Assert.Equal([40u], Rle.FromCompressedString("X1", 1, 40).Counts);
        Assert.Throws<FormatException>(() => Rle.FromCompressedString("1 1", 1, 2));
    }

    [Fact]
    public void A_rectangle_polygon_covers_the_pixels_whose_centres_it_contains()
    {
        // Corners (2,1)-(6,4): the outline crosses pixel-centre columns 2..5 at y 0.6 and 3.6, rounded up to rows 1
        // and 4, so rows 1..3 of columns 2..5 are inside: 12 pixels, the polygon's own area.
        var rle = Rle.FromPolygon([2, 1, 2, 4, 6, 4, 6, 1], 6, 8);
        var mask = rle.Decode();
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 8; x++)
                Assert.True(mask[y * 8 + x] == (x is >= 2 and < 6 && y is >= 1 and < 4 ? 1 : 0), $"pixel ({x},{y})");
        Assert.Equal(12u, rle.Area());
        Assert.Equal([2.0, 1, 4, 3], rle.ToBbox());
        // The same box given as [x, y, w, h] (rleFrBbox), and its orientation does not matter.
        Assert.Equal(rle.Counts, Rle.FromBbox([2, 1, 4, 3], 6, 8).Counts);
        Assert.Equal(rle.Counts, Rle.FromPolygon([6, 1, 6, 4, 2, 4, 2, 1], 6, 8).Counts);
    }

    [Fact]
    public void A_polygon_partly_outside_the_image_is_clipped_to_it()
    {
        // x from -3 to 2, y from 1 to 3: only columns 0 and 1 exist, rows 1 and 2.
        var mask = Rle.FromPolygon([-3, 1, -3, 3, 2, 3, 2, 1], 4, 4).Decode();
        Assert.Equal(B(0, 0, 0, 0,
                       1, 1, 0, 0,
                       1, 1, 0, 0,
                       0, 0, 0, 0), mask);
        // Entirely beyond the bottom edge: nothing.
        Assert.Equal(0u, Rle.FromPolygon([0, 10, 0, 12, 3, 12, 3, 10], 4, 4).Area());
    }

    [Fact]
    public void Merge_unites_or_intersects_and_iou_divides_by_the_detections_area_for_crowds()
    {
        var a = Rle.Encode(B(1, 1, 0, 0), 2, 2);   // top row
        var b = Rle.Encode(B(1, 0, 1, 0), 2, 2);   // left column
        Assert.Equal(B(1, 1, 1, 0), Rle.Merge([a, b]).Decode());
        Assert.Equal(B(1, 0, 0, 0), Rle.Merge([a, b], intersect: true).Decode());
        // IoU of a with b: 1 shared pixel over 3 → 1/3; against b as a crowd: 1 over a's area 2.
        var iou = Rle.Iou([a], [b, b], [false, true]);
        Assert.Equal(1 / 3.0, iou[0, 0], 15);
        Assert.Equal(0.5, iou[0, 1], 15);
        // Masks of different sizes give -1 (only reached when their boxes overlap).
        Assert.Equal(-1, Rle.Iou([a], [Rle.Encode(B(1, 1, 1, 1, 1, 1), 3, 2)], [false])[0, 0]);
        // Boxes: [0,0,2,2] vs [1,1,2,2] overlap 1 of union 7; as a crowd 1 of the detection's 4.
        var box = Rle.BoxIou([[0, 0, 2, 2]], [[1, 1, 2, 2], [1, 1, 2, 2]], [false, true]);
        Assert.Equal(1 / 7.0, box[0, 0], 15);
        Assert.Equal(0.25, box[0, 1], 15);
    }
}
