using ConvMAE.Modeling;
using ConvMAE.Training;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Training;

/// <summary>bf16 compute with fp32 master weights: the copy computes what the fp32 model computes, to bf16 precision.</summary>
public class MixedPrecisionTests
{
    static (MaskedAutoencoderConvViT Model, ConvViTConfig Config) Tiny()
    {
        var config = ConvViTConfig.ConvMAETinyCpu;
        manual_seed(4);
        return (new MaskedAutoencoderConvViT(config), config);
    }

    [Fact]
    public void The_bf16_copy_gives_a_float32_loss_and_gradients_that_match_fp32()
    {
        using var scope = NewDisposeScope();
        var (model, config) = Tiny();
        using var precision = MixedPrecision.For(model, () => new MaskedAutoencoderConvViT(config), "bf16");
        var compute = (MaskedAutoencoderConvViT)precision.Compute;
        Assert.Equal(ScalarType.BFloat16, compute.ComputeDtype);
        Assert.Equal(ScalarType.Float32, model.ComputeDtype);
        var imgs = randn(8, 3, 64, 64, generator: new Generator(1));
        var noise = rand(8, 16, generator: new Generator(2));

        using (var fp32 = model.Forward(imgs, noise)) fp32.Loss.backward();
        var reference = model.parameters().Where(p => p.grad is not null).Select(p => p.grad!.clone()).ToList();
        foreach (var p in model.parameters()) p.grad = null;
        double fp32Loss;
        using (var again = model.Forward(imgs, noise)) fp32Loss = again.Loss.item<float>();

        precision.BeforeStep();
        using var output = compute.Forward(imgs, noise);
        Assert.Equal(ScalarType.Float32, output.Loss.dtype);
        Assert.Equal(ScalarType.Float32, output.Pred.dtype);
        Assert.InRange(output.Loss.item<float>() / fp32Loss, 0.98, 1.02);
        output.Loss.backward();
        precision.AfterBackward();
        Assert.All(compute.parameters(), p => Assert.Null(p.grad));                  // cleared on the copy
        var mixed = model.parameters().Where(p => p.grad is not null).Select(p => p.grad!).ToList();
        Assert.Equal(reference.Count, mixed.Count);
        var a = cat(reference.Select(g => g.flatten()).ToArray());
        var b = cat(mixed.Select(g => g.flatten()).ToArray());
        Assert.Equal(ScalarType.Float32, b.dtype);
        double cosine = (a * b).sum().item<float>() / (a.norm().item<float>() * b.norm().item<float>());
        Assert.True(cosine > 0.99, $"cosine of fp32 and bf16 gradients {cosine}");
    }

    [Fact]
    public void Gradients_accumulate_over_backward_passes_as_in_fp32()
    {
        using var scope = NewDisposeScope();
        var (model, config) = Tiny();
        using var precision = MixedPrecision.For(model, () => new MaskedAutoencoderConvViT(config), "bf16");
        var compute = (MaskedAutoencoderConvViT)precision.Compute;
        var imgs = randn(4, 3, 64, 64, generator: new Generator(3));
        var noise = rand(4, 16, generator: new Generator(4));
        precision.BeforeStep();
        using (var o = compute.Forward(imgs, noise)) o.Loss.backward();
        precision.AfterBackward();
        var once = model.DecoderPred.weight!.grad!.clone();
        using (var o = compute.Forward(imgs, noise)) o.Loss.backward();
        precision.AfterBackward();
        Assert.True(model.DecoderPred.weight!.grad!.allclose(once * 2, 1e-5, 1e-7));
    }

    [Fact]
    public void Fp32_uses_the_model_itself_and_unknown_dtypes_are_refused()
    {
        var (model, config) = Tiny();
        using var precision = MixedPrecision.For(model, () => throw new InvalidOperationException("no copy in fp32"), "fp32");
        Assert.Same(model, precision.Compute);
        Assert.False(precision.IsMixed);
        var e = Assert.Throws<ArgumentException>(() => MixedPrecision.For(model, () => new MaskedAutoencoderConvViT(config), "fp16"));
        Assert.Contains("--dtype fp16", e.Message);
        model.Dispose();
    }
}
