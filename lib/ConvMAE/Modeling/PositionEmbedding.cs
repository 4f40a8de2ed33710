using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>Fixed 2-D sin-cos position tables (util/pos_embed.py), generalised to any grid.</summary>
public static class PositionEmbedding
{
    /// <summary>
    /// Table [gridH·gridW, dim] (float32, computed in float64 as official), token l = i·gridW + j (row i, column j):
    /// columns [0,D/4) sin(j·ω), [D/4,D/2) cos(j·ω), [D/2,3D/4) sin(i·ω), [3D/4,D) cos(i·ω), ω_k = 10000^(-4k/D).
    /// QUIRK: the first half ("emb_h" in the official code) encodes the COLUMN index j, because
    /// <c>np.meshgrid(grid_w, grid_h)</c> puts w first.
    /// </summary>
    public static Tensor SinCos2D(int dim, int gridH, int gridW)
    {
        if (dim % 4 != 0) throw new ArgumentException($"dim={dim}: a 2-D sin-cos table needs a multiple of 4", nameof(dim));
        int quarter = dim / 4;
        var omega = new double[quarter];
        for (int k = 0; k < quarter; k++)
            omega[k] = 1.0 / Math.Pow(10000.0, k / (double)quarter);   // arange(D/4)/(D/4), as in get_1d (Dh = D/2)
        var table = new float[gridH * gridW * dim];
        for (int i = 0; i < gridH; i++)
        for (int j = 0; j < gridW; j++)
        {
            int row = (i * gridW + j) * dim;
            for (int k = 0; k < quarter; k++)
            {
                double a = j * omega[k], b = i * omega[k];
                table[row + k] = (float)Math.Sin(a);
                table[row + quarter + k] = (float)Math.Cos(a);
                table[row + 2 * quarter + k] = (float)Math.Sin(b);
                table[row + 3 * quarter + k] = (float)Math.Cos(b);
            }
        }
        return tensor(table, [gridH * gridW, dim]);
    }

    /// <summary>Square grid g×g (the official <c>get_2d_sincos_pos_embed(dim, g)</c>).</summary>
    public static Tensor SinCos2D(int dim, int grid) => SinCos2D(dim, grid, grid);
}
