using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE;

/// <summary>
/// The address of a tensor's first element, for the kit's few loops that work on libtorch memory directly (the depthwise
/// weight gradient, the fused AdamW step). Only for dense CPU tensors: callers check <see cref="IsDenseFloat32"/> or
/// their own contiguity first, and keep the tensor alive while they use the pointer.
/// </summary>
internal static class TensorMemory
{
    [DllImport("LibTorchSharp")] static extern IntPtr THSStorage_data_ptr(IntPtr tensor);
    [DllImport("LibTorchSharp")] static extern long THSTensor_storage_offset(IntPtr tensor);

    public static IntPtr DataPointer(Tensor t) =>
        THSStorage_data_ptr(t.Handle) + (nint)(THSTensor_storage_offset(t.Handle) * t.ElementSize);

    /// <summary>float32, on the CPU, contiguous: its elements are numel() consecutive floats from <see cref="DataPointer"/>.</summary>
    public static bool IsDenseFloat32(Tensor t) =>
        t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.is_contiguous();
}
