using System.Runtime.InteropServices;

namespace ConvMAE;

/// <summary>
/// Lets the MKL inside TorchSharp's libtorch choose its matrix-product kernels by instruction set on AMD processors, as
/// it does on Intel's. <c>CONVMAE_MKL_DISPATCH</c>: <c>auto</c> (default), <c>intel</c> or <c>mkl</c>.
/// <para>Why: before it picks a kernel MKL asks whether the processor is Intel's (<c>mkl_serv_intel_cpu_true</c>); on AMD
/// it then runs a generic AVX2 path, even on processors with AVX-512. On AMD EPYC family 25 model 17 (Zen 4, AVX-512;
/// docs/performance.md, "MKL's kernels by instruction set") a 2048³ fp32 product ran at 103-189 GFLOP/s that way
/// (median 170) and 194-220 (median 213) by instruction set; ConvMAE-Base fp32 finetuning at 1.13-1.15 against 1.25-1.33 img/s, pretraining at
/// 1.95-2.09 against 2.36-2.55 (batch 8, alternating runs); bf16 steps 1.02-1.13× as fast. The official code
/// never meets MKL (Debian's PyTorch uses OpenBLAS), so this changes which kernel computes the kit's products and
/// nothing else: results differ by rounding, as between any two GEMM kernels.</para>
/// <para>How: MKL keeps the answer in a static int of libtorch_cpu.so that starts negative (not asked yet) and that the
/// function returns once it is set. The kit writes 1 into it once, right after loading libtorch
/// (<see cref="NativeTorch.EnsureLoaded"/>), before any product ran. Its address comes from the function's first
/// instructions (<c>mov eax,[rip+disp32]; test eax,eax; js</c>), which are checked, as is that the address lies in a
/// writable mapping of that libtorch_cpu.so; anything else leaves MKL alone, and <see cref="Describe"/> says why.
/// The same can be done with a preloaded library defining the function, which needs a compiler at set-up and a
/// restart of every process; this needs neither.</para>
/// <para>auto: by instruction set on AMD processors with AVX-512, where the gain was measured; MKL's own choice
/// elsewhere (Intel's processors get the instruction-set path anyway; AVX2-only AMD was not measured). intel: on any
/// processor. mkl: MKL's own choice everywhere.</para>
/// </summary>
public static class MklDispatch
{
    public const string Variable = "CONVMAE_MKL_DISPATCH";
    const string Function = "mkl_serv_intel_cpu_true";

    /// <summary>What <see cref="Apply"/> did, for <c>convmae info</c> and the bench's JSON (null before it ran).</summary>
    static string? state;

    /// <summary>Whether MKL should be told the processor is Intel's: the variable's value, or auto's choice for
    /// <paramref name="cpu"/>. A value other than auto, intel or mkl is an error naming the variable.</summary>
    public static bool WantsIntelPath(Func<string, string?> env, CpuFeatures cpu) => env(Variable) switch
    {
        null or "" or "auto" => cpu.Vendor == "AuthenticAMD" && cpu.Avx512,
        "intel" => true,
        "mkl" => false,
        var other => throw new ArgumentException($"{Variable}={other}: expected auto, intel or mkl"),
    };

    /// <summary>
    /// The address of MKL's cached answer, read from the first bytes of <c>mkl_serv_intel_cpu_true</c> at
    /// <paramref name="functionAddress"/>: 8B 05 disp32 (mov eax,[rip+disp32]), 85 C0 (test eax,eax), 78 (js: not
    /// asked yet). Null for any other code (another MKL build).
    /// </summary>
    public static long? CachedAnswerAddress(ReadOnlySpan<byte> code, long functionAddress)
    {
        if (code.Length < 9 || code[0] != 0x8B || code[1] != 0x05 || code[6] != 0x85 || code[7] != 0xC0 || code[8] != 0x78)
            return null;
        return functionAddress + 6 + BitConverter.ToInt32(code[2..6]);   // rip-relative: from the next instruction
    }

    /// <summary>Whether <paramref name="address"/> (4 bytes) lies in a writable mapping of <paramref name="file"/>
    /// (full, resolved path), from the lines of /proc/self/maps (start-end perms offset dev inode path).</summary>
    public static bool InWritableMapping(IEnumerable<string> mapsLines, long address, string file)
    {
        foreach (var line in mapsLines)
        {
            if (LibtorchFiles.MapsFields(line) is not { } f || f.Perms.Length < 2 || f.Perms[1] != 'w' || f.Path != file) continue;
            var range = f.Range.Split('-');
            long start = Convert.ToInt64(range[0], 16), end = Convert.ToInt64(range[1], 16);
            if (address >= start && address + 4 <= end) return true;
        }
        return false;
    }

    /// <summary>Applies the choice to the loaded <paramref name="libtorchCpu"/> (called once, by
    /// <see cref="NativeTorch.EnsureLoaded"/>, before anything computes).</summary>
    internal static void Apply(string libtorchCpu)
    {
        string mode = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } v ? v : "auto";
        if (!WantsIntelPath(Environment.GetEnvironmentVariable, CpuFeatures.Current))
        {
            state = $"as MKL chooses ({Variable}={mode})";
            return;
        }
        state = TellIntel(libtorchCpu) is { } problem
            ? $"as MKL chooses: {problem} ({Variable}={mode})"
            : $"by instruction set, as on Intel processors ({Variable}={mode})";
    }

    /// <summary>Writes 1 into MKL's cached answer; returns why not, or null when done.</summary>
    static string? TellIntel(string libtorchCpu)
    {
        var lib = NativeLibrary.Load(libtorchCpu);
        if (!NativeLibrary.TryGetExport(lib, Function, out var fn)) return $"{Function} not found in {libtorchCpu}";
        var code = new byte[9];
        Marshal.Copy(fn, code, 0, code.Length);
        if (CachedAnswerAddress(code, fn) is not { } cached) return $"{Function} has code this kit does not know";
        var file = LibtorchFiles.RealPath(libtorchCpu);
        if (!InWritableMapping(File.ReadLines("/proc/self/maps"), cached, file)) return "its cached answer is not in a writable mapping";
        int before = Marshal.ReadInt32((IntPtr)cached);
        if (before == 0) return "MKL had already chosen (a product ran before the kit loaded libtorch)";
        Marshal.WriteInt32((IntPtr)cached, 1);
        return null;
    }

    /// <summary>One line for <c>convmae info</c> and the bench's JSON.</summary>
    public static string Describe() => state ?? "not applied (libtorch not loaded by the kit)";
}
