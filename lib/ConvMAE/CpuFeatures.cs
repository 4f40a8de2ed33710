namespace ConvMAE;

/// <summary>
/// The processor as /proc/cpuinfo describes it: model name, family/model and the instruction sets that decide which
/// libtorch kernels run. Printed by <c>convmae info</c> and the bench (speed figures mean little without it: machines
/// of one kind differ, AMD EPYC of family 23 with AVX2 only, family 25 with AVX-512 and AVX512-BF16, Intel Xeon with
/// AMX), and read before a bf16 run: without AVX512-BF16 or AMX, libtorch computes bf16 by converting to float32 and
/// back around every kernel, several times slower than float32 itself (measured on a family-23 EPYC: a 3136×768 ×
/// 768×3072 product at 11.6 GFLOP/s in bf16 against 66 in fp32).
/// </summary>
public sealed record CpuFeatures(string ModelName, string Family, string Model, IReadOnlySet<string> Flags, string Vendor = "")
{
    static readonly Lazy<CpuFeatures> current = new(() =>
        Parse(File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : ""));

    /// <summary>This machine's processor (empty fields where /proc/cpuinfo is absent, e.g. not Linux).</summary>
    public static CpuFeatures Current => current.Value;

    /// <summary>The first processor's entry of a /proc/cpuinfo text (every core of these machines is the same).</summary>
    public static CpuFeatures Parse(string cpuinfo)
    {
        string Field(string name) => cpuinfo.Split('\n')
            .Select(l => l.Split(':', 2))
            .FirstOrDefault(kv => kv.Length == 2 && kv[0].Trim() == name)?[1].Trim() ?? "";
        var flags = Field("flags").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        return new CpuFeatures(Field("model name"), Field("cpu family"), Field("model"), flags, Field("vendor_id"));
    }

    public bool Avx2 => Flags.Contains("avx2");
    public bool Avx512 => Flags.Contains("avx512f");

    /// <summary>bf16 matrix products in hardware: AVX512-BF16 (AMD family 25, Intel Cooper Lake on) or AMX-BF16 (Intel
    /// Sapphire Rapids on). Without either, libtorch's bf16 is float32 arithmetic plus conversions.</summary>
    public bool NativeBf16 => Flags.Contains("avx512_bf16") || Flags.Contains("amx_bf16");

    /// <summary>One line: "AMD EPYC (family 23, model 1): AVX2, no AVX-512, bf16 emulated".</summary>
    public string Describe()
    {
        if (ModelName.Length == 0 && Flags.Count == 0) return "unknown (no /proc/cpuinfo)";
        var isa = new List<string>();
        isa.Add(Avx2 ? "AVX2" : "no AVX2");
        isa.Add(Avx512 ? "AVX-512" : "no AVX-512");
        if (Flags.Contains("amx_bf16")) isa.Add("AMX-BF16");
        else if (Flags.Contains("avx512_bf16")) isa.Add("AVX512-BF16");
        isa.Add(NativeBf16 ? "bf16 in hardware" : "bf16 emulated");
        return $"{ModelName} (family {Family}, model {Model}): {string.Join(", ", isa)}";
    }

    /// <summary>The warning a bf16 run on this processor deserves, or null where bf16 runs in hardware.</summary>
    public string? Bf16Warning() => NativeBf16 ? null :
        $"--dtype bf16 on a processor without AVX512-BF16 or AMX ({ModelName}): libtorch emulates bf16 through float32 " +
        "here, so the run is several times slower than --dtype fp32 and gains nothing; use fp32 on this machine";
}
