using Xunit;

namespace ConvMAE.Tests.Foundation;

/// <summary>The processor line printed with every speed figure, and the bf16 warning, from /proc/cpuinfo texts of the
/// three processor kinds these machines come with (flags shortened to the ones that matter and a few neighbours).</summary>
public class CpuFeaturesTests
{
    static string CpuInfo(string model, int family, int modelNumber, string flags) =>
        string.Join("\n", Enumerable.Range(0, 2).Select(p =>
            $"processor\t: {p}\nvendor_id\t: X\ncpu family\t: {family}\nmodel\t\t: {modelNumber}\nmodel name\t: {model}\n" +
            $"stepping\t: 0\nflags\t\t: {flags}\nbugs\t\t: sysret_ss_attrs\n")) + "\n";

    [Fact]
    public void An_AVX2_only_EPYC_emulates_bf16_and_is_warned_about()
    {
        var cpu = CpuFeatures.Parse(CpuInfo("AMD EPYC", 23, 1, "fpu sse2 avx fma avx2 bmi2 sha_ni"));
        Assert.Equal(("AMD EPYC", "23", "1"), (cpu.ModelName, cpu.Family, cpu.Model));
        Assert.True(cpu.Avx2);
        Assert.False(cpu.Avx512);
        Assert.False(cpu.NativeBf16);
        Assert.Equal("AMD EPYC (family 23, model 1): AVX2, no AVX-512, bf16 emulated", cpu.Describe());
        var warning = cpu.Bf16Warning();
        Assert.NotNull(warning);
        Assert.Contains("AMD EPYC", warning);
        Assert.Contains("--dtype fp32", warning);
    }

    [Theory]
    [InlineData("AMD EPYC 9R14", 25, 17, "avx2 avx512f avx512dq avx512_bf16 avx512_vnni",
                "AMD EPYC 9R14 (family 25, model 17): AVX2, AVX-512, AVX512-BF16, bf16 in hardware")]
    [InlineData("Intel(R) Xeon(R) Platinum 8488C", 6, 143, "avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8",
                "Intel(R) Xeon(R) Platinum 8488C (family 6, model 143): AVX2, AVX-512, AMX-BF16, bf16 in hardware")]
    public void An_EPYC_with_AVX512_BF16_or_a_Xeon_with_AMX_computes_bf16_in_hardware(string model, int family, int number, string flags, string line)
    {
        var cpu = CpuFeatures.Parse(CpuInfo(model, family, number, flags));
        Assert.True(cpu.NativeBf16);
        Assert.Null(cpu.Bf16Warning());
        Assert.Equal(line, cpu.Describe());
    }

    [Fact]
    public void No_cpuinfo_says_so_and_the_machine_s_own_line_is_in_the_runtime_description()
    {
        Assert.Equal("unknown (no /proc/cpuinfo)", CpuFeatures.Parse("").Describe());
        var line = Runtime.Describe().Single(f => f.Name == "CPU").Value;
        Assert.Equal(CpuFeatures.Current.Describe(), line);
        Assert.DoesNotContain("unknown", line);   // these tests run on Linux
    }
}
