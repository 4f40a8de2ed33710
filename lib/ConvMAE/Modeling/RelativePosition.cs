using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// BEiT-style relative-position bias over a Wh×Ww token window (no class token): a learnable table of
/// (2Wh−1)(2Ww−1) offsets × heads, and the persistent index buffer that maps each (query, key) pair of the window to
/// its offset, (dy + Wh − 1)·(2Ww − 1) + (dx + Ww − 1), as the official files compute it.
/// </summary>
public static class RelativePosition
{
    public static int TableSize(int wh, int ww) => (2 * wh - 1) * (2 * ww - 1);

    /// <summary>int64 [h·w, h·w]: the index into a table built for a <paramref name="tableWh"/>×<paramref name="tableWw"/>
    /// window, for a window of h×w ≤ the table's (tokens in row-major order).</summary>
    public static Tensor Index(int h, int w, int tableWh, int tableWw)
    {
        if (h > tableWh || w > tableWw)
            throw new ArgumentException($"a {h}×{w} token grid exceeds the {tableWh}×{tableWw} relative-position table");
        int n = h * w;
        var idx = new long[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                int dy = i / w - j / w, dx = i % w - j % w;
                idx[i * n + j] = (long)(dy + tableWh - 1) * (2 * tableWw - 1) + (dx + tableWw - 1);
            }
        return tensor(idx, [n, n]);
    }

    /// <summary>[heads, N, N] bias from a table [(2Wh−1)(2Ww−1), heads] and an index [N, N].</summary>
    public static Tensor Bias(Tensor table, Tensor index)
    {
        long n = index.shape[0];
        return table.index_select(0, index.view(-1)).view(n, n, -1).permute(2, 0, 1).contiguous();
    }
}

/// <summary>A shared relative-position table as its own module (ConvViTDet's global_rel_pos_bias and
/// windowed_rel_pos_bias): keys relative_position_bias_table [(2Wh−1)(2Ww−1), heads] and relative_position_index.</summary>
public sealed class RelativePositionBias : nn.Module
{
    public int WindowH { get; }
    public int WindowW { get; }

    [ComponentName(Name = "relative_position_bias_table")] public readonly Parameter Table;
    [ComponentName(Name = "relative_position_index")] public readonly Tensor Index;

    public RelativePositionBias(int wh, int ww, int numHeads) : base(nameof(RelativePositionBias))
    {
        WindowH = wh; WindowW = ww;
        Table = new Parameter(zeros(RelativePosition.TableSize(wh, ww), numHeads));   // zero at initialisation, as official
        Index = RelativePosition.Index(wh, ww, wh, ww);
        register_parameter("relative_position_bias_table", Table);
        register_buffer("relative_position_index", Index);
    }

    /// <summary>[heads, Wh·Ww, Wh·Ww].</summary>
    public Tensor Bias() => RelativePosition.Bias(Table, Index);
}
