using ConvMAE.Modeling;
using ConvMAE.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Training;

/// <summary>bf16 compute with fp32 master weights, as one wrapper around a task: the copy computes what the fp32 model
/// computes, to bf16 precision, BatchNorm included.</summary>
public class MixedPrecisionTests
{
    /// <summary>A batch that is already tensors (the wrapper is generic over the batch).</summary>
    sealed record TensorBatch(Tensor Images, Tensor Extra) : IHostBatch
    {
        public int Epoch => 0;
        public int Index => 0;
        public int Count => (int)Images.shape[0];
    }

    /// <summary>Pretraining loss with fixed masking noise, so fp32 and bf16 see the same masks.</summary>
    sealed class FixedNoiseTask(MaskedAutoencoderConvViT model) : ITrainingTask<TensorBatch>
    {
        public string Kind => "pretrain";
        public nn.Module Model => model;
        public IReadOnlyDictionary<string, Tensor> Losses(TensorBatch b, Device device, Random rng) =>
            LossNames.Single(model.Forward(b.Images, b.Extra).Loss);
    }

    static (MaskedAutoencoderConvViT Model, ConvViTConfig Config) Tiny()
    {
        var config = ConvViTConfig.ConvMAETinyCpu;
        manual_seed(4);
        return (new MaskedAutoencoderConvViT(config), config);
    }

    static double Cosine(IEnumerable<Tensor> a, IEnumerable<Tensor> b)
    {
        var x = cat(a.Select(g => g.flatten()).ToArray());
        var y = cat(b.Select(g => g.flatten().to(float32)).ToArray());
        return (x * y).sum().item<float>() / (x.norm().item<float>() * y.norm().item<float>());
    }

    [Fact]
    public void The_bf16_copy_gives_a_float32_loss_and_gradients_that_match_fp32()
    {
        using var scope = NewDisposeScope();
        var (model, config) = Tiny();
        var batch = new TensorBatch(randn(8, 3, 64, 64, generator: new Generator(1)), rand(8, 16, generator: new Generator(2)));
        var fp32 = MixedPrecision<TensorBatch>.Apply("fp32", model, m => new FixedNoiseTask((MaskedAutoencoderConvViT)m), () => throw new InvalidOperationException());
        var fp32Loss = fp32.Losses(batch, CPU, new Random(0))["loss"];
        fp32Loss.backward();
        var reference = model.parameters().Where(p => p.grad is not null).Select(p => p.grad!.clone()).ToList();
        foreach (var p in model.parameters()) p.grad = null;

        var task = (MixedPrecision<TensorBatch>)MixedPrecision<TensorBatch>.Apply("bf16", model, m => new FixedNoiseTask((MaskedAutoencoderConvViT)m),
                                                                                  () => new MaskedAutoencoderConvViT(config));
        using var _ = task;
        var compute = (MaskedAutoencoderConvViT)task.Compute;
        Assert.Equal(ScalarType.BFloat16, compute.ComputeDtype);
        Assert.Equal(ScalarType.Float32, model.ComputeDtype);
        Assert.Same(model, task.Model);
        var loss = task.Losses(batch, CPU, new Random(0))["loss"];
        Assert.Equal(ScalarType.Float32, loss.dtype);
        Assert.InRange(loss.item<float>() / fp32Loss.item<float>(), 0.98, 1.02);
        loss.backward();
        task.AfterBackward();
        Assert.All(compute.parameters(), p => Assert.Null(p.grad));                  // cleared on the copy
        var mixed = model.parameters().Where(p => p.grad is not null).Select(p => p.grad!).ToList();
        Assert.Equal(reference.Count, mixed.Count);
        Assert.All(mixed, g => Assert.Equal(ScalarType.Float32, g.dtype));
        double cosine = Cosine(reference, mixed);
        Assert.True(cosine > 0.99, $"cosine of fp32 and bf16 gradients {cosine}");
    }

    [Fact]
    public void Gradients_accumulate_over_backward_passes_as_in_fp32()
    {
        using var scope = NewDisposeScope();
        var (model, config) = Tiny();
        using var task = (MixedPrecision<TensorBatch>)MixedPrecision<TensorBatch>.Apply("bf16", model, m => new FixedNoiseTask((MaskedAutoencoderConvViT)m),
                                                                                        () => new MaskedAutoencoderConvViT(config));
        var batch = new TensorBatch(randn(4, 3, 64, 64, generator: new Generator(3)), rand(4, 16, generator: new Generator(4)));
        task.Losses(batch, CPU, new Random(0))["loss"].backward();
        task.AfterBackward();
        var once = model.DecoderPred.weight!.grad!.clone();
        task.Losses(batch, CPU, new Random(0))["loss"].backward();
        task.AfterBackward();
        Assert.True(model.DecoderPred.weight!.grad!.allclose(once * 2, 1e-5, 1e-7));
    }

    [Fact]
    public void Fp32_is_the_task_on_the_model_itself_and_unknown_dtypes_are_refused()
    {
        var (model, config) = Tiny();
        var task = MixedPrecision<TensorBatch>.Apply("fp32", model, m => new FixedNoiseTask((MaskedAutoencoderConvViT)m),
                                                     () => throw new InvalidOperationException("no copy in fp32"));
        Assert.IsType<FixedNoiseTask>(task);
        Assert.Same(model, task.Model);
        var e = Assert.Throws<ArgumentException>(() => MixedPrecision<TensorBatch>.Apply("fp16", model, m => new FixedNoiseTask((MaskedAutoencoderConvViT)m),
                                                                                         () => new MaskedAutoencoderConvViT(config)));
        Assert.Contains("--dtype fp16", e.Message);
        model.Dispose();
    }

    /// <summary>conv → BatchNorm → ReLU → pooled linear head, casting its input to the model's dtype as the kit's models do.</summary>
    sealed class ConvBnNet : nn.Module<Tensor, Tensor>
    {
        readonly Conv2d conv = nn.Conv2d(3, 8, 3, padding: 1);
        readonly BatchNorm2d bn = nn.BatchNorm2d(8);
        readonly Linear head = nn.Linear(8, 4);

        public ConvBnNet() : base(nameof(ConvBnNet)) => RegisterComponents();

        public BatchNorm2d Norm => bn;
        public Conv2d Conv => conv;
        public Linear Head => head;

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = nn.functional.relu(bn.call(conv.call(x.to(head.weight!.dtype))));
            return head.call(y.mean([2L, 3L]).to(head.weight!.dtype)).MoveToOuterDisposeScope();
        }
    }

    sealed class ClassifyTask(ConvBnNet model) : ITrainingTask<TensorBatch>
    {
        public string Kind => "toy";
        public nn.Module Model => model;
        public IReadOnlyDictionary<string, Tensor> Losses(TensorBatch b, Device device, Random rng) =>
            LossNames.Single(nn.functional.cross_entropy(model.call(b.Images), b.Extra));
    }

    [Fact]
    public void Convolutions_libtorch_gets_wrong_in_bf16_are_recognised()
    {
        Assert.True(MixedPrecision<TensorBatch>.HasBrokenBf16Kernel(nn.Conv2d(16, 8, 3)));
        Assert.True(MixedPrecision<TensorBatch>.HasBrokenBf16Kernel(nn.ConvTranspose2d(256, 12, 2, stride: 2)));
        Assert.False(MixedPrecision<TensorBatch>.HasBrokenBf16Kernel(nn.Conv2d(16, 32, 3)));                 // multiple of 16
        Assert.False(MixedPrecision<TensorBatch>.HasBrokenBf16Kernel(nn.Conv2d(256, 3, 1)));                 // 1×1
        Assert.False(MixedPrecision<TensorBatch>.HasBrokenBf16Kernel(nn.Conv2d(24, 24, 5, groups: 24)));     // depthwise
    }

    [Fact]
    public void A_model_with_BatchNorm_trains_in_bf16_with_float32_statistics_kept_in_the_master()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var model = new ConvBnNet();
        manual_seed(11);
        var fp32Model = new ConvBnNet();
        var batch = new TensorBatch(randn(16, 3, 12, 12, generator: new Generator(5)) * 2 + 1, randint(0, 4, [16], generator: new Generator(6)));

        var fp32Loss = new ClassifyTask(fp32Model).Losses(batch, CPU, new Random(0))["loss"];
        fp32Loss.backward();
        using var task = (MixedPrecision<TensorBatch>)MixedPrecision<TensorBatch>.Apply("bf16", model, m => new ClassifyTask((ConvBnNet)m), () => new ConvBnNet());
        var compute = (ConvBnNet)task.Compute;
        Assert.Equal(ScalarType.Float32, compute.Norm.weight!.dtype);                 // BatchNorm stays float32 in the copy
        // 3×3 into 8 channels: a shape libtorch's bf16 convolution gets wrong, so it runs in float32 between casts.
        Assert.True(MixedPrecision<TensorBatch>.HasBrokenBf16Kernel(compute.Conv));
        Assert.Equal(ScalarType.Float32, compute.Conv.weight!.dtype);
        Assert.Equal(ScalarType.BFloat16, compute.Head.weight!.dtype);
        Assert.Equal(ScalarType.Float32, compute.Norm.running_mean!.dtype);
        var loss = task.Losses(batch, CPU, new Random(0))["loss"];
        Assert.Equal(ScalarType.Float32, loss.dtype);
        Assert.InRange(loss.item<float>() / fp32Loss.item<float>(), 0.98, 1.02);
        loss.backward();
        task.AfterBackward();

        // The statistics this forward updated are in the master, float32, close to what fp32 training computes.
        Assert.Equal(ScalarType.Float32, model.Norm.running_mean!.dtype);
        Assert.True(model.Norm.running_mean!.allclose(compute.Norm.running_mean!, 0, 0), "master running_mean is the copy's");
        Assert.True(model.Norm.running_var!.allclose(compute.Norm.running_var!, 0, 0), "master running_var is the copy's");
        Assert.False(model.Norm.running_mean!.allclose(zeros(8)), "running_mean was not updated");
        Assert.True(model.Norm.running_mean!.allclose(fp32Model.Norm.running_mean!, 2e-2, 2e-3),
                    $"bf16 {Show(model.Norm.running_mean!)} vs fp32 {Show(fp32Model.Norm.running_mean!)}");
        Assert.True(model.Norm.running_var!.allclose(fp32Model.Norm.running_var!, 2e-2, 2e-3));
        Assert.Equal(1L, model.Norm.num_batches_tracked!.item<long>());

        var reference = fp32Model.parameters().Select(p => p.grad!).ToList();
        var mixed = model.parameters().Select(p => p.grad!).ToList();
        Assert.All(mixed, g => Assert.Equal(ScalarType.Float32, g.dtype));
        double cosine = Cosine(reference, mixed);
        Assert.True(cosine > 0.99, $"cosine of fp32 and bf16 gradients {cosine}");
    }
    static string Show(Tensor t) => string.Join(", ", t.to(float32).data<float>().ToArray().Select(v => v.ToString("F4")));
}
