using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

public class PositionEmbeddingTests
{
    [Fact]
    public void Table_follows_the_official_layout_column_first()
    {
        // dim 8, grid 3: ω = [1, 10000^-0.5]; token l = 3i + j; [sin jω, cos jω, sin iω, cos iω].
        using var t = PositionEmbedding.SinCos2D(8, 3);
        Assert.Equal([9L, 8L], t.shape);
        double[] w = [1.0, 0.01];
        var v = t.data<float>().ToArray();
        for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
        {
            var row = v.AsSpan((i * 3 + j) * 8, 8);
            double[] expected = [Math.Sin(j * w[0]), Math.Sin(j * w[1]), Math.Cos(j * w[0]), Math.Cos(j * w[1]),
                                 Math.Sin(i * w[0]), Math.Sin(i * w[1]), Math.Cos(i * w[0]), Math.Cos(i * w[1])];
            for (int k = 0; k < 8; k++) Assert.Equal(expected[k], row[k], 6);
        }
    }

    [Fact]
    public void Rectangular_grids_index_rows_and_columns()
    {
        using var t = PositionEmbedding.SinCos2D(4, 2, 3);   // ω = [1]; [sin j, cos j, sin i, cos i]
        Assert.Equal([6L, 4L], t.shape);
        var v = t.data<float>().ToArray();
        int l = 1 * 3 + 2;   // i = 1, j = 2
        Assert.Equal(Math.Sin(2), v[l * 4 + 0], 6);
        Assert.Equal(Math.Sin(1), v[l * 4 + 2], 6);
    }

    [Fact]
    public void Pretraining_tables_are_frozen_and_filled()
    {
        using var _ = NewDisposeScope();
        using var model = new MaskedAutoencoderConvViT(ConvViTConfig.ConvMAETinyCpu);
        Assert.False(model.PosEmbed.requires_grad);
        Assert.False(model.DecoderPosEmbed.requires_grad);
        Assert.True(model.PosEmbed.squeeze(0).allclose(PositionEmbedding.SinCos2D(128, 4)));
        Assert.True(model.DecoderPosEmbed.squeeze(0).allclose(PositionEmbedding.SinCos2D(64, 4)));
        Assert.DoesNotContain(model.parameters().Where(p => p.requires_grad), p => p.Handle == model.PosEmbed.Handle);
    }
}
