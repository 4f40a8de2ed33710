using ConvMAE.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests;

/// <summary>
/// ConvViT.ForwardFeatures runs a batch in chunks where no gradient reaches the encoder: the same features and the same
/// probe gradients as the official whole-batch forward, and never where a gradient or a random draw in the encoder
/// would make the two differ.
/// </summary>
public class InferenceChunkTests
{
    static readonly ConvViTConfig Tiny = ConvViTConfig.ConvMAETinyCpu with { GlobalPool = true };

    [Fact]
    public void Chunked_features_are_the_whole_batch_features()
    {
        using var _ = NewDisposeScope();
        manual_seed(5);
        using var model = new ConvViT(Tiny);
        model.eval();
        var imgs = randn(150, 3, 64, 64);                      // two chunks of 64 and a remainder of 22
        using var noGrad = no_grad();
        Assert.Equal(64, model.InferenceChunkFor(imgs));
        var chunked = model.ForwardFeatures(imgs);
        model.InferenceChunk = 0;
        Assert.Equal(0, model.InferenceChunkFor(imgs));
        var whole = model.ForwardFeatures(imgs);
        Assert.Equal([150L, 128L], chunked.shape);
        // Identical on the machines measured; the bound leaves room for a BLAS that rounds differently per row count.
        Assert.True(chunked.allclose(whole, rtol: 1e-5, atol: 1e-6), $"max |diff| {(chunked - whole).abs().max().item<float>()}");
    }

    [Fact]
    public void A_linear_probe_gets_the_same_loss_and_head_gradients_in_chunks()
    {
        using var _ = NewDisposeScope();
        manual_seed(6);
        using var model = new ConvViT(Tiny);
        model.UseLinearProbeHead();
        model.train();                                         // as main_linprobe trains: BatchNorm head on batch statistics
        var imgs = randn(130, 3, 64, 64);
        var labels = randint(0, 10, [130]);
        Assert.Equal(64, model.InferenceChunkFor(imgs));       // grad mode on, but the encoder is frozen

        (Tensor Loss, Tensor[] Grads) Step()
        {
            model.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(imgs), labels);
            loss.backward();
            return (loss.detach(), model.Head.parameters().Select(p => p.grad!.clone()).ToArray());
        }
        var chunked = Step();
        model.InferenceChunk = 0;
        var whole = Step();
        Assert.True(chunked.Loss.allclose(whole.Loss, rtol: 1e-6, atol: 0));
        Assert.Equal(whole.Grads.Length, chunked.Grads.Length);
        for (int i = 0; i < whole.Grads.Length; i++)
            Assert.True(chunked.Grads[i].allclose(whole.Grads[i], rtol: 1e-5, atol: 1e-7), $"head gradient {i}");
    }

    [Fact]
    public void The_whole_batch_runs_where_a_gradient_or_a_random_draw_reaches_the_encoder()
    {
        using var _ = NewDisposeScope();
        using var model = new ConvViT(Tiny);
        var imgs = randn(256, 3, 64, 64);

        model.eval();
        Assert.Equal(0, model.InferenceChunkFor(imgs));                     // finetuning: the encoder's parameters need gradients
        Assert.Equal(0, model.InferenceChunkFor(randn(64, 3, 64, 64)));     // one chunk would hold the whole batch
        using (no_grad()) Assert.Equal(64, model.InferenceChunkFor(imgs));
        foreach (var p in model.parameters()) p.requires_grad = false;
        Assert.Equal(64, model.InferenceChunkFor(imgs));
        Assert.Equal(0, model.InferenceChunkFor(imgs.requires_grad_()));    // a gradient for the images (saliency, attacks)

        using var dropping = new ConvViT(Tiny with { DropPathRate = 0.1 });
        foreach (var p in dropping.parameters()) p.requires_grad = false;
        using var noGrad = no_grad();
        dropping.train();
        Assert.Equal(0, dropping.InferenceChunkFor(imgs));                  // drop path draws per batch in training
        dropping.eval();
        Assert.Equal(64, dropping.InferenceChunkFor(imgs));

        using var small = new ConvViT(ConvViTConfig.ConvMAESmallCpu);
        small.eval();
        Assert.Equal(8, small.InferenceChunkFor(randn(64, 3, 128, 128)));  // 32·32·64 stage-1 elements an image
        small.InferenceChunk = 16;
        Assert.Equal(16, small.InferenceChunkFor(randn(64, 3, 128, 128)));
    }

    [Fact]
    public void A_wrong_input_shape_gets_the_error_that_names_the_images()
    {
        using var _ = NewDisposeScope();
        using var model = new ConvViT(Tiny);
        model.eval();
        using var noGrad = no_grad();
        foreach (var bad in new[] { randn(8, 3, 64), randn(8, 3, 32, 32), randn(8, 1, 64, 64) })
        {
            var e = Assert.Throws<ArgumentException>(() => model.ForwardFeatures(bad));
            Assert.StartsWith("imgs: expected [N,3,64,64]", e.Message);
        }
    }
}
