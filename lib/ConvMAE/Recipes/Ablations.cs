using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConvMAE.Recipes;

/// <summary>One arm of an ablation sweep: a name and the pretraining settings it changes.</summary>
public sealed record AblationVariant(string Name, PretrainArgs Args);

/// <summary>
/// One arm's outcome, as saved (one JSON line per arm in results.jsonl). <see cref="ProbeAcc1"/> — the linear-probe
/// top-1 of the pretrained encoder on val — is the number to compare across arms; the pretraining losses are not
/// comparable across mask ratios or targets (norm_pix_loss changes the scale of the target). The probe of a randomly
/// initialised encoder is saved as the arm "random init" with NaN losses.
/// </summary>
public sealed record AblationResult
{
    [JsonPropertyName("sweep")] public required string Sweep { get; init; }
    [JsonPropertyName("variant")] public required string Variant { get; init; }
    [JsonPropertyName("mask_ratio")] public double MaskRatio { get; init; }
    [JsonPropertyName("masked_conv")] public bool MaskedConv { get; init; }
    [JsonPropertyName("multi_scale_fusion")] public bool MultiScaleFusion { get; init; }
    [JsonPropertyName("norm_pix_loss")] public bool NormPixLoss { get; init; }
    [JsonPropertyName("pretrain_epochs")] public int PretrainEpochs { get; init; }
    [JsonPropertyName("probe_epochs")] public int ProbeEpochs { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("loss_first")] public double LossFirst { get; init; }
    [JsonPropertyName("loss_last")] public double LossLast { get; init; }
    [JsonPropertyName("probe_acc1")] public double ProbeAcc1 { get; init; }
    /// <summary>The base learning rate of the best probe head when the probe is a sweep (each arm at its own best rate); NaN otherwise.</summary>
    [JsonPropertyName("probe_blr")] public double ProbeBlr { get; init; } = double.NaN;
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("finished")] public DateTime Finished { get; init; }
}

/// <summary>This sweep's number for an arm next to the latest earlier sweep's (NaN where that sweep lacks the arm).</summary>
public sealed record AblationComparison(string Variant, double ProbeAcc1, double EarlierProbeAcc1, string EarlierSweep)
{
    public double Change => ProbeAcc1 - EarlierProbeAcc1;
}

/// <summary>
/// The paper's ablations (mask ratio, masked convolution, multi-scale fusion, norm_pix_loss) as a sweep on the kit's
/// recipes: each arm is pretrained, then linear-probed with the quickstart's probe settings; every result is appended
/// to a results file as soon as its arm finishes, so a sweep that dies keeps what it finished and a later sweep can be
/// compared with it.
/// </summary>
public static class Ablations
{
    public const string RandomInit = "random init";
    public const string ResultsFileName = "results.jsonl";

    static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>The baseline and one arm per switch, each differing from the baseline in exactly one setting.</summary>
    public static IReadOnlyList<AblationVariant> Standard(PretrainArgs baseline) =>
    [
        new("baseline", baseline),
        new("mask ratio 0.5", baseline with { MaskRatio = 0.5 }),
        new("mask ratio 0.9", baseline with { MaskRatio = 0.9 }),
        new("no masked conv", baseline with { MaskedConv = !baseline.MaskedConv }),
        new("no multi-scale fusion", baseline with { MultiScaleFusion = !baseline.MultiScaleFusion }),
        new(baseline.NormPixLoss ? "pixel target" : "norm_pix_loss", baseline with { NormPixLoss = !baseline.NormPixLoss }),
    ];

    /// <summary>
    /// Runs every arm (and the random-init probe when <paramref name="includeRandomInit"/>) under
    /// <paramref name="outputDir"/>/&lt;sweep&gt;/, appending each result to <paramref name="outputDir"/>/results.jsonl.
    /// <paramref name="probe"/> gives the probe's settings (data, epochs, lr); its Finetune and OutputDir are set per arm.
    /// </summary>
    public static IReadOnlyList<AblationResult> Run(IReadOnlyList<AblationVariant> variants, LinprobeArgs probe, string outputDir,
                                                    bool includeRandomInit = true, RunObserver? obs = null, string? sweep = null)
    {
        obs ??= new RunObserver();
        sweep ??= DateTime.UtcNow.ToString("yyyyMMdd-HHmmss");
        var names = variants.Select(v => v.Name).ToList();
        if (names.Distinct().Count() != names.Count) throw new ArgumentException("ablation arms need distinct names: " + string.Join(", ", names));
        var sweepDir = Path.Combine(outputDir, sweep);
        var results = new List<AblationResult>();
        int total = variants.Count + (includeRandomInit ? 1 : 0), index = 0;
        foreach (var v in variants)
        {
            obs.Info?.Invoke($"arm {++index}/{total}: {v.Name}");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var dir = Path.Combine(sweepDir, Slug(v.Name));
            var pretrain = ImageRecipes.Pretrain(v.Args with { OutputDir = Path.Combine(dir, "pretrain"), LogDir = Path.Combine(dir, "pretrain"), SaveEvery = v.Args.Epochs }, obs);
            pretrain.Model.Dispose();
            var losses = Training.MetricsLog.Read(pretrain.MetricsPath).Where(r => r["kind"].GetString() == "epoch")
                                 .Select(r => r["train_loss"].GetDouble()).ToList();
            var (acc, blr) = Probe(probe with { Finetune = pretrain.Checkpoint ?? throw new InvalidOperationException($"arm '{v.Name}' wrote no checkpoint"),
                                                OutputDir = Path.Combine(dir, "linprobe") }, obs);
            results.Add(Append(outputDir, new AblationResult
            {
                Sweep = sweep, Variant = v.Name, MaskRatio = v.Args.MaskRatio, MaskedConv = v.Args.MaskedConv,
                MultiScaleFusion = v.Args.MultiScaleFusion, NormPixLoss = v.Args.NormPixLoss, PretrainEpochs = v.Args.Epochs,
                ProbeEpochs = probe.Epochs, Seed = v.Args.Seed, LossFirst = losses.FirstOrDefault(double.NaN),
                LossLast = losses.LastOrDefault(double.NaN), ProbeAcc1 = acc, ProbeBlr = blr, Seconds = clock.Elapsed.TotalSeconds, Finished = DateTime.UtcNow,
            }));
        }
        if (includeRandomInit)
        {
            obs.Info?.Invoke($"arm {total}/{total}: {RandomInit} (the probe's floor)");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (acc, blr) = Probe(probe with { Finetune = "", OutputDir = Path.Combine(sweepDir, "random-init", "linprobe") }, obs);
            results.Add(Append(outputDir, new AblationResult
            {
                Sweep = sweep, Variant = RandomInit, MaskRatio = double.NaN, PretrainEpochs = 0, ProbeEpochs = probe.Epochs,
                Seed = probe.Seed, LossFirst = double.NaN, LossLast = double.NaN, ProbeAcc1 = acc, ProbeBlr = blr, Seconds = clock.Elapsed.TotalSeconds,
                Finished = DateTime.UtcNow,
            }));
        }
        return results;
    }

    static (double Acc1, double Blr) Probe(LinprobeArgs a, RunObserver obs)
    {
        var r = ImageRecipes.Linprobe(a with { LogDir = "", SaveEvery = a.Epochs }, obs);
        r.Model.Dispose();
        var eval = r.Last?.Eval;
        return (eval?.GetValueOrDefault("acc1", double.NaN) ?? double.NaN, eval?.GetValueOrDefault("best_blr", double.NaN) ?? double.NaN);
    }

    /// <summary>Every result saved under <paramref name="outputDir"/>, oldest first (empty when there is none yet).</summary>
    public static IReadOnlyList<AblationResult> Load(string outputDir)
    {
        var path = Path.Combine(outputDir, ResultsFileName);
        if (!File.Exists(path)) return [];
        return File.ReadLines(path).Select((line, i) => (line, i)).Where(x => x.line.Trim().Length > 0).Select(x =>
        {
            try { return JsonSerializer.Deserialize<AblationResult>(x.line, Json)!; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{x.i + 1}: not an ablation result ({e.Message})", e); }
        }).ToList();
    }

    /// <summary>
    /// Each arm of <paramref name="current"/> against the latest earlier sweep in <paramref name="saved"/> that ran with the
    /// same pretraining and probe epochs (so the numbers are comparable); null when there is none.
    /// </summary>
    public static IReadOnlyList<AblationComparison>? CompareWithEarlier(IReadOnlyList<AblationResult> current, IReadOnlyList<AblationResult> saved)
    {
        if (current.Count == 0) return null;
        var sweep = current[0].Sweep;
        var epochs = current.Where(r => r.Variant != RandomInit).Select(r => r.PretrainEpochs).DefaultIfEmpty(0).Max();
        var earlier = saved.Where(r => r.Sweep != sweep && r.ProbeEpochs == current[0].ProbeEpochs
                                       && (r.Variant == RandomInit || r.PretrainEpochs == epochs))
                           .GroupBy(r => r.Sweep).OrderBy(g => g.Max(r => r.Finished)).LastOrDefault();
        if (earlier is null) return null;
        var byName = earlier.GroupBy(r => r.Variant).ToDictionary(g => g.Key, g => g.Last().ProbeAcc1);
        return current.Select(r => new AblationComparison(r.Variant, r.ProbeAcc1, byName.GetValueOrDefault(r.Variant, double.NaN), earlier.Key)).ToList();
    }

    static AblationResult Append(string outputDir, AblationResult r)
    {
        Directory.CreateDirectory(outputDir);
        // One line per finished arm, flushed at once: a sweep killed mid-way keeps every arm it completed.
        File.AppendAllText(Path.Combine(outputDir, ResultsFileName), JsonSerializer.Serialize(r, Json) + "\n");
        return r;
    }

    static string Slug(string name) => new(name.Select(c => char.IsLetterOrDigit(c) || c == '.' ? char.ToLowerInvariant(c) : '-').ToArray());
}
