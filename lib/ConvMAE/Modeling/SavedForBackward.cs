using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>
/// Saving tensors from a TorchSharp autograd function's forward for its backward. TorchSharp makes the saved variables
/// after forward returns, so what is saved must outlive every dispose scope of the forward: aliases are saved, detached
/// from the scopes, and <see cref="Release"/> disposes them (and the variables TorchSharp made) at the end of the backward.
/// </summary>
internal static class SavedForBackward
{
    public static void Save(autograd.AutogradContext ctx, params Tensor[] tensors)
    {
        var keep = tensors.Select(t => t.alias()).ToList();
        foreach (var t in keep) t.DetachFromDisposeScope();
        ctx.save_for_backward(keep);
        ctx.save_data("handles", keep);
    }

    /// <param name="saved">What <c>ctx.get_saved_variables()</c> returned.</param>
    public static void Release(autograd.AutogradContext ctx, IEnumerable<Tensor> saved)
    {
        foreach (var t in saved) t.Dispose();
        foreach (var t in (List<Tensor>)ctx.get_data("handles")) t.Dispose();
    }
}
