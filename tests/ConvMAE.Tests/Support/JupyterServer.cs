using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ConvMAE.Env;

namespace ConvMAE.Tests;

/// <summary>
/// The classic Jupyter notebook server (Debian's jupyter-notebook 6.4) started the way the README says,
/// `jupyter notebook notebooks/` from the checkout, on 127.0.0.1 with a random port and token. Every process it starts
/// (the .NET kernel among them) inherits a marker variable, so <see cref="Dispose"/> can stop the whole tree and
/// <see cref="Survivors"/> can prove that nothing is left behind.
/// </summary>
public sealed class JupyterServer : IDisposable
{
    readonly Process process;
    readonly string marker = "convmae-live-" + Guid.NewGuid().ToString("N");
    readonly TestPaths.TempDir config = TestPaths.Temp("convmae-jupyter-config-");
    readonly System.Text.StringBuilder output = new();

    public int Port { get; }
    public string Token { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
    public string BaseUrl => $"http://127.0.0.1:{Port}/";
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>Starts the server on <paramref name="folder"/> (relative to the checkout) and waits until it answers.</summary>
    public JupyterServer(string folder, IDictionary<string, string>? env = null)
    {
        Port = FreePort();
        var psi = new ProcessStartInfo("/usr/bin/jupyter")
        {
            WorkingDirectory = TestPaths.RepoRoot, UseShellExecute = false,
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        // The README's command, plus what a test needs: no browser, a port and token of its own, loopback only.
        string[] args = ["notebook", folder, "--no-browser", "--ip=127.0.0.1", $"--port={Port}", "--port-retries=0",
                         $"--NotebookApp.token={Token}"];
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (Environment.UserName == "root") psi.ArgumentList.Add("--allow-root");   // as the README says for root
        psi.Environment["CONVMAE_LIVE_TEST"] = marker;
        psi.Environment["JUPYTER_CONFIG_DIR"] = config.Path;   // no user configuration changes what is tested
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        process = Process.Start(psi) ?? throw new InvalidOperationException("could not start jupyter notebook");
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        WaitUntilAnswering(TimeSpan.FromSeconds(60));
    }

    static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    void WaitUntilAnswering(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited) throw new InvalidOperationException($"jupyter notebook exited with {process.ExitCode}:\n{Output}");
            try
            {
                if (http.GetAsync($"{BaseUrl}api/status?token={Token}").Result.IsSuccessStatusCode) return;
            }
            catch (AggregateException) { }
            Thread.Sleep(300);
        }
        throw new TimeoutException($"jupyter notebook did not answer on {BaseUrl} within {timeout}:\n{Output}");
    }

    /// <summary>Processes still alive that carry this server's marker (the server, its kernels, their children).</summary>
    public IReadOnlyList<int> Survivors()
    {
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var environ = File.ReadAllText(Path.Combine(dir, "environ"));
                var state = File.ReadAllText(Path.Combine(dir, "stat"));
                bool zombie = state.Length > state.LastIndexOf(')') + 2 && state[state.LastIndexOf(')') + 2] == 'Z';
                if (!zombie && environ.Contains("CONVMAE_LIVE_TEST=" + marker, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return found;
    }

    bool stopped;

    /// <summary>Asks the server to shut down as a user would (it stops its kernels first), waits, and returns the
    /// marked processes still alive then; those are killed, so a failing test leaves nothing behind either.</summary>
    public IReadOnlyList<int> Stop()
    {
        if (stopped) return [];
        stopped = true;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            http.PostAsync($"{BaseUrl}api/shutdown?token={Token}", null).Wait();
        }
        catch (AggregateException) { }
        if (!process.WaitForExit(20_000)) process.Kill(entireProcessTree: true);
        var until = DateTime.UtcNow.AddSeconds(15);
        IReadOnlyList<int> left;
        while ((left = Survivors()).Count > 0 && DateTime.UtcNow < until) Thread.Sleep(200);
        foreach (var pid in left) TryKill(pid);
        return left;
    }

    public void Dispose()
    {
        Stop();
        process.Dispose();
        config.Dispose();
    }

    static void TryKill(int pid)
    {
        try { Process.GetProcessById(pid).Kill(entireProcessTree: true); } catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
    }
}
