using System.Runtime.InteropServices;
using ConvMAE.Env;
using ConvMAE.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace ConvMAE.Tests.Foundation;

/// <summary>
/// MKL's kernels by instruction set on AMD (<see cref="MklDispatch"/>): the choice per processor and variable, the
/// reading of MKL's code, and, in this test host and in the CLI, what MKL itself answers afterwards.
/// </summary>
public class MklDispatchTests
{
    static readonly CpuFeatures Zen4 = new("AMD EPYC 9R14", "25", "17", new HashSet<string> { "avx2", "avx512f", "avx512_bf16" }, "AuthenticAMD");
    static readonly CpuFeatures Zen3 = new("AMD EPYC", "25", "1", new HashSet<string> { "avx2" }, "AuthenticAMD");
    static readonly CpuFeatures Xeon = new("Intel(R) Xeon(R) Platinum 8488C", "6", "143", new HashSet<string> { "avx2", "avx512f", "amx_bf16" }, "GenuineIntel");

    static Func<string, string?> Env(string? value) => name => name == MklDispatch.Variable ? value : null;

    [Fact]
    public void Auto_takes_the_instruction_set_path_on_AMD_with_AVX512_only_and_the_variable_overrides_it()
    {
        Assert.True(MklDispatch.WantsIntelPath(Env(null), Zen4));
        Assert.True(MklDispatch.WantsIntelPath(Env("auto"), Zen4));
        Assert.False(MklDispatch.WantsIntelPath(Env(null), Zen3));   // not measured there
        Assert.False(MklDispatch.WantsIntelPath(Env(null), Xeon));   // MKL answers yes by itself
        Assert.False(MklDispatch.WantsIntelPath(Env("mkl"), Zen4));
        Assert.True(MklDispatch.WantsIntelPath(Env("intel"), Zen3));
        var e = Assert.Throws<ArgumentException>(() => MklDispatch.WantsIntelPath(Env("avx512"), Zen4));
        Assert.Contains("CONVMAE_MKL_DISPATCH=avx512", e.Message);
    }

    [Fact]
    public void The_cached_answer_is_read_from_the_first_instruction_of_MKLs_function()
    {
        // libtorch-cpu 2.10.0's libtorch_cpu.so as objdump shows it: at bdc5670 "8b 05 1a 67 98 09  mov
        // 0x998671a(%rip),%eax  # 1574bd90 <mkl_serv_intel_cpu_true.cached>", then "85 c0  test", "78 01  js".
        byte[] code = [0x8B, 0x05, 0x1A, 0x67, 0x98, 0x09, 0x85, 0xC0, 0x78, 0x01, 0xC3];
        Assert.Equal(0x1574bd90L, MklDispatch.CachedAnswerAddress(code, 0xbdc5670L));
        Assert.Equal(0x7f001574bd90L, MklDispatch.CachedAnswerAddress(code, 0x7f000bdc5670L));
        // A negative displacement, and code of another shape (here: the function already replaced by "mov eax,1; ret").
        byte[] back = [0x8B, 0x05, 0xF0, 0xFF, 0xFF, 0xFF, 0x85, 0xC0, 0x78];
        Assert.Equal(0x1000L + 6 - 16, MklDispatch.CachedAnswerAddress(back, 0x1000L));
        Assert.Null(MklDispatch.CachedAnswerAddress([0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3, 0x90, 0x90, 0x90], 0x1000L));
        Assert.Null(MklDispatch.CachedAnswerAddress(code[..8], 0x1000L));
    }

    [Fact]
    public void Only_a_writable_mapping_of_that_file_may_be_written()
    {
        const string lib = "/pkg/native/libtorch_cpu.so";
        string[] maps =
        [
            "7f0000000000-7f0000100000 r-xp 00000000 fe:01 124 /pkg/native/libtorch_cpu.so",
            "7f0000100000-7f0000200000 rw-p 00100000 fe:01 124 /pkg/native/libtorch_cpu.so",
            "7f0000200000-7f0000300000 rw-p 00000000 00:00 0 ",
            "7f0000300000-7f0000400000 rw-p 00000000 fe:01 125 /other/libtorch_cpu.so",
        ];
        Assert.True(MklDispatch.InWritableMapping(maps, 0x7f0000100000, lib));
        Assert.True(MklDispatch.InWritableMapping(maps, 0x7f00001ffffc, lib));
        Assert.False(MklDispatch.InWritableMapping(maps, 0x7f00001ffffe, lib));   // its 4 bytes would cross the end
        Assert.False(MklDispatch.InWritableMapping(maps, 0x7f0000000100, lib));   // code: not writable
        Assert.False(MklDispatch.InWritableMapping(maps, 0x7f0000200100, lib));   // anonymous
        Assert.False(MklDispatch.InWritableMapping(maps, 0x7f0000300100, lib));   // another file of the same name
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int IntelCpuTrue();

    /// <summary>What MKL itself answers now in this process: 1 where the kit told it (or the processor is Intel's).</summary>
    [Fact]
    public void MKL_answers_as_the_choice_says_and_still_multiplies_correctly()
    {
        NativeTorch.EnsureLoaded();
        var cpuLib = NativeTorch.Loaded.Single(p => Path.GetFileName(p) == "libtorch_cpu.so");
        var fn = NativeLibrary.GetExport(NativeLibrary.Load(cpuLib), "mkl_serv_intel_cpu_true");
        bool told = MklDispatch.WantsIntelPath(Environment.GetEnvironmentVariable, CpuFeatures.Current);
        int expected = told || CpuFeatures.Current.Vendor == "GenuineIntel" ? 1 : 0;
        Assert.Equal(expected, Marshal.GetDelegateForFunctionPointer<IntelCpuTrue>(fn)());
        Assert.StartsWith(told ? "by instruction set" : "as MKL chooses", MklDispatch.Describe());

        // Whatever kernel MKL took, the products are right: sizes that are no multiple of any vector width.
        using var scope = NewDisposeScope();
        var g = new Generator(seed: 3);
        var a = randn([301, 203], generator: g);
        var b = randn([203, 97], generator: g);
        var reference = a.to(float64).matmul(b.to(float64));
        double err = (a.matmul(b).to(float64) - reference).abs().max().item<double>();
        Assert.True(err < 1e-3, $"fp32 product off by {err} from the float64 one ({MklDispatch.Describe()})");
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void The_CLI_reports_and_obeys_the_variable()
    {
        var own = Proc.Run(KitCli.Path, ["info"], env: new Dictionary<string, string> { [MklDispatch.Variable] = "mkl" });
        Assert.True(own.ExitCode == 0, own.Combined);
        Assert.Contains("MKL kernels    as MKL chooses (CONVMAE_MKL_DISPATCH=mkl)", own.Stdout);
        var intel = Proc.Run(KitCli.Path, ["info"], env: new Dictionary<string, string> { [MklDispatch.Variable] = "intel" });
        Assert.True(intel.ExitCode == 0, intel.Combined);
        Assert.Contains("MKL kernels    by instruction set, as on Intel processors (CONVMAE_MKL_DISPATCH=intel)", intel.Stdout);
        var bad = Proc.Run(KitCli.Path, ["info"], env: new Dictionary<string, string> { [MklDispatch.Variable] = "fast" });
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("CONVMAE_MKL_DISPATCH=fast: expected auto, intel or mkl", bad.Combined);
    }
}
