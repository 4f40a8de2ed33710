using System.Runtime.InteropServices;

namespace ConvMAE;

/// <summary>
/// Restarts the CLI's detection, segmentation and video training under glibc settings that keep freed memory for reuse:
/// <c>GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4000000000</c>.
/// <para>Why: glibc serves every block over 32 MB with a fresh mmap and unmaps it on free, and libtorch's CPU allocator
/// keeps no cache, so every large tensor (at 1024², ConvViTDet's stage-1 hidden maps are 256 MB, a global-attention
/// mask and its gradient 805 MB each) is faulted in and zeroed by the kernel again at every step. On these 2-core VMs
/// that was a third of the detector's training step. Measured on family 25 (docs/performance.md, "Freed memory kept"):
/// bench detect's step 65-79 s → 45-56 s, peak 13.5-13.8 → 15.8-17.3 GB; bench segment's 67-74 → 55-56 s; bench
/// video's 15-view inference 71-73 → 48-49 s (peak 8.8-9.3 → 13.4-15.0 GB), its pretraining 1.2-1.4× and finetuning
/// 1.1× faster. Where tensors are smaller the same settings cost instead: ConvMAE-Base finetuning and pretraining at
/// 224² ran about 0.9× (more user time, less system time). So only the commands measured to gain take it by default
/// (<see cref="ByDefault"/>); <c>CONVMAE_MALLOC=kept</c> asks for it anywhere, <c>CONVMAE_MALLOC=default</c> nowhere,
/// and a <c>GLIBC_TUNABLES</c> already set (even empty) is the user's and is left alone.</para>
/// <para>glibc reads these settings only at process start. Setting the same two with <c>mallopt</c> from inside the
/// running process gained less (bench detect 59 s against 45 s restarted, same sitting), so the CLI replaces itself
/// (execve: same process id, arguments, output streams and exit status) once, at start-up, before it has done any
/// work. Only the process's initial thread gains: glibc gives other threads arenas of at most 64 MB and maps larger
/// blocks for them regardless, so in-process hosts (notebook kernels, the test host) are unaffected.</para>
/// </summary>
public static class HeapReuse
{
    /// <summary>No mmap for large blocks (all come from the heap and are reused) and no trimming of the heap's top.</summary>
    public const string Tunables = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4000000000";
    /// <summary>"kept": restart under <see cref="Tunables"/> for any command; "default": never; unset: <see cref="ByDefault"/>.</summary>
    public const string Variable = "CONVMAE_MALLOC";
    /// <summary>Set in the restarted process, so it never restarts again.</summary>
    const string Restarted = "CONVMAE_MALLOC_RESTARTED";

    /// <summary>The CLI commands that restart unless told otherwise, where the gain was measured: detection and
    /// segmentation training, every video command that computes (16×224² clips: pretraining, finetuning and the 15-view
    /// evaluation all gained), and their benches. Detection inference (the bench's inference row), segmentation's
    /// slide inference and the 224² image commands did not gain.</summary>
    public static bool ByDefault(IReadOnlyList<string> args) =>
        args.Count >= 2 && (args[0], args[1]) is ("detect", "train") or ("segment", "train") or ("video", "pretrain")
            or ("video", "finetune") or ("video", "eval") or ("bench", "detect") or ("bench", "segment") or ("bench", "video");

    /// <summary>The <c>GLIBC_TUNABLES</c> value to restart with, or null to run as is.</summary>
    public static string? RestartWith(Func<string, string?> env, bool glibc, IReadOnlyList<string> args)
    {
        if (!glibc || env("GLIBC_TUNABLES") is not null || env(Restarted) is not null) return null;
        return env(Variable) switch
        {
            "kept" => Tunables,
            "default" => null,
            null or "" => ByDefault(args) ? Tunables : null,
            var other => throw new ArgumentException($"{Variable}={other}: expected kept or default"),
        };
    }

    /// <summary>Replaces this process by itself under <see cref="Tunables"/> when <see cref="RestartWith"/> says so;
    /// returns only when it did not (not glibc Linux, opted out, already restarted, or execve failed).</summary>
    public static void RestartIfUseful(IReadOnlyList<string> args)
    {
        if (RestartWith(Environment.GetEnvironmentVariable, OnGlibc, args) is not { } tunables) return;
        string[] argv;
        try { argv = File.ReadAllText("/proc/self/cmdline").Split('\0'); }
        catch (IOException) { return; }
        if (argv.Length > 0 && argv[^1].Length == 0) argv = argv[..^1];   // the list ends with a NUL
        if (argv.Length == 0) return;
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => $"{e.Key}={e.Value}")
            .Append($"GLIBC_TUNABLES={tunables}").Append($"{Restarted}=1");
        Console.Out.Flush(); Console.Error.Flush();
        var argvPtrs = NullTerminated(argv); var envPtrs = NullTerminated(env);
        Execve("/proc/self/exe", argvPtrs, envPtrs);   // returns only on failure: then run as is
        foreach (var p in argvPtrs.Concat(envPtrs)) Marshal.FreeCoTaskMem(p);
    }

    /// <summary>A C array of UTF-8 strings ending with a null pointer (execve's argv and envp).</summary>
    static IntPtr[] NullTerminated(IEnumerable<string> items) => [.. items.Select(Marshal.StringToCoTaskMemUTF8), IntPtr.Zero];

    /// <summary>For <c>convmae info</c> and the bench's JSON: which allocator settings this process runs under.</summary>
    public static string Describe() => Describe(Environment.GetEnvironmentVariable, OnGlibc);

    internal static string Describe(Func<string, string?> env, bool glibc) => env("GLIBC_TUNABLES") switch
    {
        null when !glibc => "not glibc: allocator left alone",
        null when env(Variable) == "default" => $"glibc defaults ({Variable}=default)",
        null when env(Variable) == "kept" => $"glibc defaults ({Variable}=kept, but this process was not restarted: in-process, or execve failed)",
        null => $"glibc defaults ({Variable}=kept: freed memory kept for reuse)",
        "" => "glibc defaults (GLIBC_TUNABLES set empty)",
        Tunables => $"freed memory kept for reuse (GLIBC_TUNABLES={Tunables})",
        var t => $"GLIBC_TUNABLES={t} (the user's)",
    };

    /// <summary>Linux with glibc (musl has no gnu_get_libc_version), looked up once per process.</summary>
    static readonly bool OnGlibc =
        OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out _);

    [DllImport("libc", EntryPoint = "execve", SetLastError = true)]
    static extern int Execve([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr[] argv, IntPtr[] envp);
}
