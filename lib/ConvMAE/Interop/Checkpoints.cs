using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Interop;

/// <summary>
/// Reading, loading and writing checkpoints, for any TorchSharp module whose registered names reproduce the
/// official PyTorch state_dict keys. Every failure is a <see cref="CheckpointException"/> with a one-line message
/// that starts with the file name.
/// </summary>
public static class Checkpoints
{
    // ------------------------------------------------------------------ reading

    /// <summary>
    /// Reads a checkpoint, detecting the format from the content: a <c>torch.save</c> zip archive (an official
    /// training checkpoint {model, optimizer, epoch, scaler, args}, a {state_dict: ...} or {module: ...} wrapper,
    /// or a bare state_dict) or a safetensors file. Nothing in the pickle is executed.
    /// </summary>
    /// <param name="loadExtraTensors">Also read tensors outside the state dict (optimizer moments, ...). When false they
    /// appear in <see cref="Checkpoint.Extras"/> as <see cref="TensorInfo"/> and cost no memory.</param>
    public static Checkpoint Read(string path, bool loadExtraTensors = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
            throw new CheckpointException(path, CheckpointError.UnknownFormat, "is a folder, not a checkpoint file");
        if (!File.Exists(path))
            throw new CheckpointException(path, CheckpointError.FileNotFound, "file not found");

        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, CheckpointError.FileNotFound, $"cannot open: {e.Message}", e);
        }

        bool handedOver = false;
        try
        {
            if (fs.Length == 0)
                throw new CheckpointException(path, CheckpointError.EmptyFile, "empty file (0 bytes), not a checkpoint");
            var head = new byte[(int)Math.Min(16, fs.Length)];
            fs.ReadExactly(head);
            fs.Position = 0;

            if (head is [0x50, 0x4b, 0x03 or 0x05, 0x04 or 0x06, ..])
            {
                handedOver = true;     // the zip reader owns the stream from here
                return ReadTorchZip(path, fs, loadExtraTensors);
            }
            if (SafetensorsFormat.LooksLike(head, fs.Length))
            {
                var (sd, meta) = SafetensorsFormat.Read(path, fs);
                return new Checkpoint(path, CheckpointFormat.Safetensors, sd, null, null, null,
                    new Dictionary<string, object?>(), meta, new List<Tensor>());
            }
            if (head is [0x80, >= 2 and <= 5, ..])
                throw new CheckpointException(path, CheckpointError.UnsupportedFormat,
                    "a plain pickle (the legacy torch.save format of PyTorch < 1.6?), which is not supported; " +
                    "re-save it with torch.save(obj, path) from PyTorch >= 1.6");
            throw new CheckpointException(path, CheckpointError.UnknownFormat, $"not a checkpoint ({Describe(head)})");
        }
        finally
        {
            if (!handedOver) fs.Dispose();
        }
    }

    /// <summary>Reads only the state dict (see <see cref="Read"/>); the caller owns (and disposes) the result.</summary>
    public static StateDict ReadStateDict(string path)
    {
        var ck = Read(path);            // loadExtraTensors: false, so the state dict is all the tensors it holds
        return ck.StateDict;
    }

    private static Checkpoint ReadTorchZip(string path, FileStream fs, bool loadExtraTensors)
    {
        using var reader = TorchZipReader.Open(path, fs);
        object? root = reader.LoadPickle();

        var (sdObject, key) = FindStateDict(path, root);
        var stateDict = new StateDict();
        var ownedExtras = new List<Tensor>();
        try
        {
            foreach (var (k, v) in sdObject)
            {
                string name = k as string ?? throw new CheckpointException(path, CheckpointError.Corrupt,
                    $"state dict key {k} is a {PickleReader.TypeName(k)}, not a str");
                if (v is not LazyTensor lt)
                    throw new CheckpointException(path, CheckpointError.NoStateDict,
                        $"state dict entry {name} is a {PickleReader.TypeName(v)}, not a tensor", key: name);
                stateDict.Add(name, reader.Materialize(lt, name));
            }

            long? epoch = null;
            var extras = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
            IReadOnlyDictionary<string, object?>? args = null;
            if (key is not null && root is PyDict top)
            {
                var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
                foreach (var (k, v) in top)
                {
                    if (Equals(k, key)) continue;
                    extras[k.ToString() ?? ""] = ResolveTensors(v, lt =>
                    {
                        if (!loadExtraTensors) return lt.Info;
                        var t = reader.Materialize(lt, $"{k}");
                        ownedExtras.Add(t);
                        return t;
                    }, seen);
                }
                if (extras.TryGetValue("epoch", out var e) && e is long ep) epoch = ep;
                if (extras.TryGetValue("args", out var a))
                    args = (a as PyObject)?.State is PyDict ns ? ToStringDict(ns)
                         : a is PyDict ad ? ToStringDict(ad) : null;
            }
            return new Checkpoint(path, CheckpointFormat.TorchZip, stateDict, key, epoch, args, extras,
                new Dictionary<string, string>(), ownedExtras);
        }
        catch
        {
            stateDict.Dispose();
            foreach (var t in ownedExtras) t.Dispose();
            throw;
        }
    }

    /// <summary>The official checkpoints keep the weights under "model"; other code uses "state_dict" or "module";
    /// a bare <c>torch.save(model.state_dict())</c> is the dict itself.</summary>
    private static (PyDict Dict, string? Key) FindStateDict(string path, object? root)
    {
        if (root is not PyDict top)
        {
            string what = root is PyObject po
                ? $"a pickled {po.FullName} object (a whole model?), not a state dict; save model.state_dict() instead"
                : $"a {PickleReader.TypeName(root)}, not a dict of tensors";
            throw new CheckpointException(path, CheckpointError.NoStateDict, $"the checkpoint holds {what}");
        }
        foreach (var key in new[] { "model", "state_dict", "module" })
            if (top.TryGetValue(key, out var inner) && inner is PyDict d)
                return (d, key);
        if (top.Count > 0 && top.Values.All(v => v is LazyTensor))
            return (top, null);
        if (top.Count == 0)
            throw new CheckpointException(path, CheckpointError.NoStateDict, "the checkpoint is an empty dict");
        var keys = string.Join(", ", top.Keys.Take(8).Select(k => k.ToString()));
        throw new CheckpointException(path, CheckpointError.NoStateDict,
            $"no state dict found: the top-level keys ({keys}) include no 'model', 'state_dict' or 'module' dict, " +
            "and not all values are tensors");
    }

    private static object? ResolveTensors(object? v, Func<LazyTensor, object> f, HashSet<object> seen)
    {
        switch (v)
        {
            case LazyTensor lt:
                return f(lt);
            case PyDict d when seen.Add(d):
                foreach (var k in d.Keys.ToList()) d[k] = ResolveTensors(d[k], f, seen);
                return d;
            case List<object?> l when seen.Add(l):
                for (int i = 0; i < l.Count; i++) l[i] = ResolveTensors(l[i], f, seen);
                return l;
            case object?[] a when seen.Add(a):
                for (int i = 0; i < a.Length; i++) a[i] = ResolveTensors(a[i], f, seen);
                return a;
            case PyObject o when seen.Add(o):
                ResolveTensors(o.Args, f, seen);
                o.State = ResolveTensors(o.State, f, seen);
                return o;
            default:
                return v;
        }
    }

    private static IReadOnlyDictionary<string, object?> ToStringDict(PyDict d)
    {
        var r = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in d) r[k.ToString() ?? ""] = v;
        return r;
    }

    private static string Describe(byte[] head)
    {
        if (head is [0x89, (byte)'P', (byte)'N', (byte)'G', ..]) return "a PNG image";
        if (head is [0xff, 0xd8, 0xff, ..]) return "a JPEG image";
        if (head is [(byte)'G', (byte)'I', (byte)'F', ..]) return "a GIF image";
        if (head is [0x1f, 0x8b, ..]) return "a gzip file";
        if (head is [(byte)'%', (byte)'P', (byte)'D', (byte)'F', ..]) return "a PDF document";
        if (head is [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', ..]) return "a numpy .npy file";
        if (head.All(b => b is >= 0x20 and < 0x7f or (byte)'\n' or (byte)'\r' or (byte)'\t'))
        {
            var text = Encoding.ASCII.GetString(head).Replace("\n", " ").Replace("\r", " ").Replace("\t", " ").Trim();
            return $"a text file starting \"{text}\"";
        }
        return "unrecognised content, first bytes " + Convert.ToHexString(head.AsSpan(0, Math.Min(8, head.Length))).ToLowerInvariant();
    }

    // ------------------------------------------------------------------ loading into a module

    /// <summary>Reads <paramref name="path"/> and loads its state dict into <paramref name="module"/>
    /// (see <see cref="LoadInto(nn.Module, IEnumerable{KeyValuePair{string, Tensor}}, bool, string)"/>).</summary>
    public static LoadReport Load(nn.Module module, string path, bool strict = true)
    {
        using var ck = Read(path);
        return LoadInto(module, ck.StateDict, strict, path);
    }

    /// <summary>
    /// Copies tensors into the module's existing parameters and buffers under no_grad (each keeps its dtype and device).
    /// Strict (default): any missing key, unexpected key or shape mismatch throws a <see cref="CheckpointException"/>
    /// listing them all, and nothing is copied. Non-strict: the matching keys are copied and the rest is reported.
    /// </summary>
    /// <param name="sourceName">How the error messages name the source (normally the file path).</param>
    public static LoadReport LoadInto(nn.Module module, IEnumerable<KeyValuePair<string, Tensor>> source, bool strict = true,
                                      string sourceName = "state dict")
    {
        var plan = Plan.Make(module, source);
        if (strict && !plan.Report.IsExact)
            throw plan.Error(sourceName);
        return plan.Copy();
    }

    /// <summary>What loading would do, computed before anything is copied.</summary>
    internal sealed class Plan
    {
        private readonly List<(string Key, Tensor Target, Tensor Source)> _copies = new();
        public required LoadReport Report { get; init; }

        public static Plan Make(nn.Module module, IEnumerable<KeyValuePair<string, Tensor>> source)
        {
            var target = module.state_dict();
            var src = source as IReadOnlyDictionary<string, Tensor> ?? source.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            var missing = target.Keys.Where(k => !src.ContainsKey(k)).ToList();
            var unexpected = source.Select(kv => kv.Key).Where(k => !target.ContainsKey(k)).ToList();
            var mismatched = new List<ShapeMismatch>();
            var copies = new List<(string, Tensor, Tensor)>();
            foreach (var (k, s) in source)
            {
                if (!target.TryGetValue(k, out var t)) continue;
                if (t.shape.SequenceEqual(s.shape)) copies.Add((k, t, s));
                // PyTorch's own rule (Module._load_from_state_dict): a 0-dim tensor may be stored with shape [1]
                // (BatchNorm's num_batches_tracked in formats that have no scalars).
                else if (t.dim() == 0 && s.shape is [1]) copies.Add((k, t, s.reshape([])));
                else mismatched.Add(new ShapeMismatch(k, s.shape, t.shape));
            }
            var plan = new Plan { Report = new LoadReport(copies.Select(c => c.Item1).ToList(), missing, unexpected, mismatched) };
            plan._copies.AddRange(copies);
            return plan;
        }

        public CheckpointException Error(string sourceName, IReadOnlyList<string>? missing = null, IReadOnlyList<string>? unexpected = null,
                                         IReadOnlyList<ShapeMismatch>? mismatched = null, string suffix = "")
        {
            missing ??= Report.Missing;
            unexpected ??= Report.Unexpected;
            mismatched ??= Report.Mismatched;
            string? key = (missing.Count + unexpected.Count + mismatched.Count) == 1
                ? missing.Concat(unexpected).Concat(mismatched.Select(m => m.Key)).Single() : null;
            var failed = new LoadReport([], Report.Missing, Report.Unexpected, Report.Mismatched);
            return new CheckpointException(sourceName, CheckpointError.KeyMismatch,
                LoadReport.Problems(missing, unexpected, mismatched) + suffix, key: key, report: failed);
        }

        public LoadReport Copy()
        {
            using (torch.no_grad())
                foreach (var (_, t, s) in _copies)
                    t.copy_(s);
            return Report;
        }
    }

    // ------------------------------------------------------------------ finetuning from a pretraining checkpoint

    /// <summary>
    /// Loads a pretraining checkpoint into a finetuning/downstream model the way the official main_finetune,
    /// main_linprobe and the detection/segmentation loaders do (spec §6): pretraining-only keys the model lacks are
    /// dropped, <c>head.*</c> is dropped when its shape differs, <c>pos_embed</c> is resized bicubically when the token
    /// grid differs; then the rest is loaded. See <see cref="PretrainedLoadOptions"/> for what may stay missing.
    /// </summary>
    public static PretrainedLoadReport LoadPretrained(nn.Module module, string path, PretrainedLoadOptions? options = null)
    {
        using var ck = Read(path);
        return LoadPretrained(module, ck.StateDict, path, options);
    }

    /// <inheritdoc cref="LoadPretrained(nn.Module, string, PretrainedLoadOptions?)"/>
    public static PretrainedLoadReport LoadPretrained(nn.Module module, StateDict source, string sourceName,
                                                      PretrainedLoadOptions? options = null)
    {
        options ??= PretrainedLoadOptions.Finetune;
        var targetShapes = module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        using var adapted = PretrainedAdapter.Adapt(source, targetShapes, options, sourceName);
        var plan = Plan.Make(module, adapted.StateDict);
        var r = plan.Report;
        var disallowedMissing = r.Missing.Where(k => !options.IsAllowedMissing(k)).ToList();
        if (options.Strict && (r.Unexpected.Count > 0 || r.Mismatched.Count > 0 || disallowedMissing.Count > 0))
            throw plan.Error(sourceName, disallowedMissing, r.Unexpected, r.Mismatched,
                adapted.Dropped.Count > 0 ? $" (after dropping {adapted.Dropped.Count} pretraining-only keys)" : "");
        var load = plan.Copy();
        return new PretrainedLoadReport(adapted.Dropped, adapted.Interpolated, load);
    }

    // ------------------------------------------------------------------ writing

    /// <summary>Writes the module's state dict as safetensors (atomically: temp file, then rename).</summary>
    public static void SaveSafetensors(nn.Module module, string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        SaveSafetensors(module.state_dict(), path, metadata);

    /// <summary>Writes tensors as safetensors in the given order (atomically: temp file, then rename).</summary>
    public static void SaveSafetensors(IEnumerable<KeyValuePair<string, Tensor>> tensors, string path,
                                       IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.Write(path, s => SafetensorsFormat.Write(s, tensors, metadata));

    /// <summary>Writes any Python-shaped value (a <see cref="StateDict"/> for a bare state_dict .pth, a PyDict, ...) as a
    /// torch.save zip archive, atomically.</summary>
    public static void SaveTorch(string path, object? value) =>
        AtomicFile.Write(path, s => TorchZipWriter.Write(s, value));
}
