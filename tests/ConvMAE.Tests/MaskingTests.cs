using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

public class MaskingTests
{
    [Theory]
    [InlineData(196, 0.75, 49)]
    [InlineData(196, 0.6, 78)]
    [InlineData(196, 0.9, 19)]   // 196·0.1 = 19.6 truncates
    [InlineData(16, 0.75, 4)]
    [InlineData(36, 0.5, 18)]
    public void Kept_count_truncates_like_python_int(int L, double ratio, int kept) =>
        Assert.Equal(kept, Masking.LenKeep(L, ratio));

    [Fact]
    public void From_noise_keeps_the_smallest_noise_and_marks_the_rest_removed()
    {
        using var _ = NewDisposeScope();
        manual_seed(3);
        var noise = rand(4, 36);
        using var plan = Masking.FromNoise(noise, 0.75);
        Assert.Equal(9, plan.NumKept);
        Assert.Equal([4L, 9L], plan.IdsKeep.shape);
        for (int n = 0; n < 4; n++)
        {
            var nz = noise[n].data<float>().ToArray();
            var expectedKept = Enumerable.Range(0, 36).OrderBy(l => nz[l]).Take(9).ToArray();   // ascending noise
            Assert.Equal(expectedKept, plan.IdsKeep[n].data<long>().ToArray().Select(x => (int)x));
            var mask = plan.Mask[n].data<float>().ToArray();
            for (int l = 0; l < 36; l++) Assert.Equal(expectedKept.Contains(l) ? 0f : 1f, mask[l]);
            // ids_restore is the inverse permutation of the noise ranking
            var restore = plan.IdsRestore[n].data<long>().ToArray();
            var ranking = Enumerable.Range(0, 36).OrderBy(l => nz[l]).ToArray();
            for (int r = 0; r < 36; r++) Assert.Equal(r, restore[ranking[r]]);
        }
    }

    [Fact]
    public void From_mask_reproduces_a_given_mask()
    {
        using var _ = NewDisposeScope();
        var mask = tensor(new float[] { 1, 0, 1, 1, 0, 1, 1, 1,
                                        0, 1, 1, 1, 1, 0, 1, 1 }, [2, 8]);
        using var plan = Masking.FromMask(mask);
        Assert.Equal(2, plan.NumKept);
        Assert.True(plan.Mask.eq(mask).all().item<bool>());
        Assert.Equal([1L, 4L], plan.IdsKeep[0].data<long>().ToArray());
        Assert.Equal([0L, 5L], plan.IdsKeep[1].data<long>().ToArray());
        // ids_restore unshuffles [kept..., removed...] back to position order
        for (int n = 0; n < 2; n++)
        {
            var restore = plan.IdsRestore[n].data<long>().ToArray();
            var m = mask[n].data<float>().ToArray();
            for (int l = 0; l < 8; l++) Assert.Equal(m[l] == 1, restore[l] >= 2);
        }
    }

    [Fact]
    public void From_mask_rejects_rows_with_different_counts()
    {
        using var _ = NewDisposeScope();
        var mask = tensor(new float[] { 1, 0, 1, 1, 0, 0, 1, 1 }, [2, 4]);
        Assert.Throws<ArgumentException>(() => Masking.FromMask(mask));
    }

    [Fact]
    public void Upsample_equals_the_official_repeat_permute_construction()
    {
        using var _ = NewDisposeScope();
        manual_seed(5);
        int g = 5;
        using var plan = Masking.FromNoise(rand(2, g * g), 0.6);
        var mask = plan.Mask;
        foreach (var f in new[] { 4, 2 })
        {
            // models_convmae.py:165, generalised: reshape(-1,g,g).unsqueeze(-1).repeat(1,1,1,f²).reshape(-1,g,g,f,f)
            //                                     .permute(0,1,3,2,4).reshape(N,g·f,g·f).unsqueeze(1)
            var official = mask.reshape(-1, g, g).unsqueeze(-1).repeat(1, 1, 1, f * f).reshape(-1, g, g, f, f)
                .permute(0, 1, 3, 2, 4).reshape(2, g * f, g * f).unsqueeze(1);
            Assert.True(Masking.Upsample(mask, g, f).eq(official).all().item<bool>());
        }
    }
}
