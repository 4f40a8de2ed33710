using System.Diagnostics;

namespace ConvMAE.Env;

/// <summary>Runs an external program and captures its output.</summary>
public static class Proc
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Combined => Stdout + Stderr;
    }

    /// <param name="unset">Variables removed from the inherited environment before <paramref name="env"/> is applied.</param>
    public static Result Run(string file, IEnumerable<string> args, string? workDir = null,
                             IDictionary<string, string>? env = null, TimeSpan? timeout = null, IEnumerable<string>? unset = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workDir ?? Directory.GetCurrentDirectory(),
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var k in unset ?? []) psi.Environment.Remove(k);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(30)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs and throws with the program's output when it fails.</summary>
    public static Result Check(string file, IEnumerable<string> args, string? workDir = null,
                               IDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var r = Run(file, args, workDir, env, timeout);
        if (r.ExitCode != 0)
            throw new InvalidOperationException(
                $"`{file} {string.Join(' ', args)}` exited with {r.ExitCode}:\n{r.Combined.Trim()}");
        return r;
    }

    /// <summary>Full path of an executable on PATH, or null.</summary>
    public static string? Which(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            var candidate = Path.Combine(dir, name);
            if (dir.Length > 0 && File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
