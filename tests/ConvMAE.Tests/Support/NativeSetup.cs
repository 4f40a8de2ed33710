using System.Runtime.CompilerServices;

namespace ConvMAE.Tests;

/// <summary>The test host pins TorchSharp's own libtorch before any test touches TorchSharp, as the CLI and the
/// notebooks' <c>Kit.Load()</c> do (see lib/ConvMAE/NativeTorch.cs).</summary>
static class NativeSetup
{
    [ModuleInitializer]
    internal static void PinLibtorch() => NativeTorch.EnsureLoaded();
}
