using System.Globalization;
using System.Text.Json;

namespace ConvMAE.Training;

/// <summary>
/// The kit's one logger for training runs: a JSON-lines file (<c>metrics.jsonl</c>, one object per record, flushed as
/// written) and TensorBoard scalars under the same tags. Records carry the run's global step so curves from a
/// resumed run line up; on resume, records past the checkpoint's step are dropped so nothing is counted twice.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";
    readonly StreamWriter jsonl;
    readonly TensorBoardWriter? tensorBoard;

    public string Path { get; }

    public MetricsLog(string outputDir, string? tensorBoardDir, long resumeFromStep = -1)
    {
        Directory.CreateDirectory(outputDir);
        Path = System.IO.Path.Combine(outputDir, FileName);
        if (resumeFromStep >= 0 && File.Exists(Path)) TruncateAfter(Path, resumeFromStep);
        else if (resumeFromStep < 0 && File.Exists(Path)) File.Delete(Path);
        jsonl = new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        if (tensorBoardDir is not null) tensorBoard = new TensorBoardWriter(tensorBoardDir);
    }

    /// <summary>Writes one record: <paramref name="kind"/> ("train", "epoch", "eval", ...), the step and named values.</summary>
    public void Write(string kind, long step, IReadOnlyDictionary<string, double> values, int? epoch = null)
    {
        var record = new Dictionary<string, object> { ["kind"] = kind, ["step"] = step };
        if (epoch is not null) record["epoch"] = epoch.Value;
        foreach (var (k, v) in values)
        {
            record[k] = double.IsFinite(v) ? v : v.ToString(CultureInfo.InvariantCulture);
            tensorBoard?.Scalar($"{kind}/{k}", v, step);
        }
        jsonl.WriteLine(JsonSerializer.Serialize(record));
    }

    /// <summary>Records of a metrics file, as dictionaries (numbers as double).</summary>
    public static List<Dictionary<string, JsonElement>> Read(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(l)!).ToList();

    static void TruncateAfter(string path, long step)
    {
        var kept = File.ReadLines(path).Where(l =>
        {
            if (l.Length == 0) return false;
            try { return JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64() <= step; }
            catch (JsonException) { return false; }   // a line cut short by a kill
        }).ToList();
        File.WriteAllLines(path + ".tmp", kept);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public void Dispose()
    {
        jsonl.Dispose();
        tensorBoard?.Dispose();
    }
}
