using ConvMAE.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Evaluation;

public class AccuracyTests
{
    [Fact]
    public void Top_k_counts_a_hit_when_the_label_is_among_the_k_largest_logits()
    {
        // 3 samples, 6 classes. Ranks of the true class: sample 0 → 1st, sample 1 → 3rd, sample 2 → 6th.
        using var logits = tensor(new float[]
        {
            9, 1, 2, 3, 4, 5,      // label 0: top-1
            1, 9, 8, 7, 2, 3,      // label 3 (7): rank 3
            5, 6, 7, 8, 9, 0,      // label 5 (0): last
        }).view(3, 6);
        using var labels = tensor(new long[] { 0, 3, 5 });
        Assert.Equal([1L, 2L, 2L, 3L], Accuracy.TopKCorrect(logits, labels, 1, 3, 5, 6));
    }

    [Fact]
    public void Confusion_matrix_counts_true_against_predicted()
    {
        var r = new EvalResult(0, 0, 0, 4, Labels: [0, 0, 1, 2], Predictions: [0, 1, 1, 1]);
        var m = r.Confusion(3);
        Assert.Equal(1, m[0, 0]);
        Assert.Equal(1, m[0, 1]);
        Assert.Equal(1, m[1, 1]);
        Assert.Equal(1, m[2, 1]);
        Assert.Equal(0, m[2, 2]);
    }
}
