using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace ConvMAE.Modeling;

/// <summary>Which model of the family a <see cref="ModelSummary"/> describes.</summary>
public enum ModelKind
{
    /// <summary>The fine-tune classifier <see cref="ConvViT"/> (models_convvit.ConvViT).</summary>
    Classifier,
    /// <summary>The pretraining model <see cref="MaskedAutoencoderConvViT"/> (models_convmae.MaskedAutoencoderConvViT).</summary>
    Pretrain,
}

/// <summary>
/// One part of a model in a <see cref="ModelSummary"/>. <see cref="Name"/> is the official top-level state_dict name
/// (patch_embed1, blocks3, decoder_pred, ...), so the row's parameters are the state entries named <c>Name</c> or
/// <c>Name.*</c>. FLOPs are per image, forward only, 1 multiply-add = 2 FLOPs.
/// </summary>
/// <param name="Name">Official top-level name of the part.</param>
/// <param name="Detail">What runs, at which size (e.g. "11 × Block(768, 12 heads, mlp 3072) on 49 tokens").</param>
/// <param name="TrainableParams">Parameter values with requires_grad.</param>
/// <param name="FrozenParams">State values that are not trained (the pretraining sin-cos pos_embed / decoder_pos_embed).</param>
/// <param name="LayerFlops">Convolution and Linear FLOPs of the part.</param>
/// <param name="AttentionFlops">Attention-product FLOPs (QKᵀ and attn·V) of the part.</param>
public sealed record SummaryRow(string Name, string Detail, long TrainableParams, long FrozenParams, long LayerFlops, long AttentionFlops)
{
    /// <summary>All state values of the part (trainable + frozen).</summary>
    public long Params => TrainableParams + FrozenParams;
    /// <summary>Forward FLOPs per image: <see cref="LayerFlops"/> + <see cref="AttentionFlops"/>.</summary>
    public long ForwardFlops => LayerFlops + AttentionFlops;
}

/// <summary>
/// Parameters per part and FLOPs per image of a ConvMAE model, computed ANALYTICALLY from a <see cref="ConvViTConfig"/>
/// (no model is built, so ConvMAE-Base is instant). <c>ModelSummary.Of(ConvViTConfig.ConvMAEBase, ModelKind.Pretrain)</c>;
/// <see cref="Rows"/> for notebooks, <see cref="ToTable"/> / <see cref="ToString"/> for text, and
/// <see cref="VerifyAgainst"/> to cross-check the counts with a built module.
/// </summary>
/// <remarks>
/// <para><b>What is counted.</b> FLOPs = 2 × multiply-adds (MACs) of
/// <list type="bullet">
/// <item>convolutions: k·k·(Cin/groups)·Cout·Hout·Wout MACs (patch embeddings, CBlock 1×1 and 5×5 depthwise convs, CMlp
///   1×1 convs, the stage-1/2 decode convs);</item>
/// <item>Linear layers: in·out MACs per token (patch_embed4, qkv, proj, MLP fc1/fc2, head, decoder_embed, decoder_pred);</item>
/// <item>attention products: QKᵀ is heads·N·N·(C/heads) = N²·C MACs, attn·V the same, so 2·N²·C MACs per Block
///   whatever the number of heads.</item>
/// </list>
/// <b>Not counted</b> (cheap elementwise or data movement, at most a few % here): bias additions, LayerNorm, GELU,
/// softmax and its scale, residual and pos-embed additions, DropPath/Dropout, the masked-conv mask multiplication, gathers
/// and concatenation, token-mean pooling, patchify and the loss. This is the convention of fvcore/ptflops-style counts,
/// except that those tools usually report MACs and call them "FLOPs" — <see cref="ForwardGMacs"/> gives that number.
/// With it, ViT-B/16 at 224 px (12 Blocks on 197 tokens + the 16×16 patch conv + head) comes out at 17.56 G MACs, the
/// familiar "17.6 GFLOPs".</para>
/// <para><b>Pretraining, sparse form</b> (<c>sparse_stages</c>, the kit's default with masked convolution): the count is
/// what runs — the stem (patch embeddings, the per-position parts of the CBlocks, the decode convs) and patch_embed4
/// on the Lk visible tokens' blocks only, the 5×5 depthwise convolutions on the whole maps.</para>
/// <para><b>Pretraining, dense form</b> (<c>sparse_stages</c> = false, or masked_conv off). As in the official forward, the convolutional stages (patch_embed1-3, blocks1-2, the
/// stage-1/2 decode convs) and patch_embed4 run on the FULL image / all L tokens — the masked convolution still computes
/// the whole feature map, it only zeroes the masked positions — while blocks3, norm and decoder_embed run on the
/// Lk = int(L·(1 − mask_ratio)) visible tokens, and the decoder blocks, decoder_norm and decoder_pred on all L tokens.
/// The mask ratio is the config's <c>mask_ratio</c>. With <c>multi_scale_fusion</c> off the decode convs keep their
/// parameters but do not run (0 FLOPs); <c>masked_conv</c> does not change the count.</para>
/// <para><b>Training.</b> <see cref="TrainingGFlops"/> = 3 × forward: the usual convention that the backward pass costs
/// about twice the forward (one product for the input gradient and one for the weight gradient per layer). It ignores that
/// frozen parts and the first layer need no input gradient, the optimizer step, and recomputation.</para>
/// <para><b>Parameters</b> are state values: every parameter and buffer of the official state_dict, so the totals equal
/// <see cref="ModuleStats.StateCount"/> of the built model; the pretraining pos_embed and decoder_pos_embed
/// (requires_grad = false) are counted as frozen.</para>
/// </remarks>
public sealed class ModelSummary
{
    /// <summary>Convention: training FLOPs per image ≈ this × forward FLOPs (forward + backward ≈ 1 + 2).</summary>
    public const double TrainingFlopsFactor = 3.0;

    /// <summary>The config summarised (at <see cref="InputSize"/>).</summary>
    public ConvViTConfig Config { get; }
    public ModelKind Kind { get; }
    /// <summary>Input side in pixels.</summary>
    public int InputSize => Config.InputSize;
    /// <summary>Stage-3 tokens L = (S/16)² for the presets.</summary>
    public int Tokens => Config.NumPatches;
    /// <summary>Tokens the transformer encoder sees: L for the classifier, int(L·(1 − mask_ratio)) in pretraining.</summary>
    public int EncoderTokens { get; }
    /// <summary>The parts, in forward order.</summary>
    public IReadOnlyList<SummaryRow> Rows { get; }

    public long TrainableParams => Rows.Sum(r => r.TrainableParams);
    public long FrozenParams => Rows.Sum(r => r.FrozenParams);
    /// <summary>All state values; equals <see cref="ModuleStats.StateCount"/> of the built model.</summary>
    public long TotalParams => TrainableParams + FrozenParams;
    /// <summary>Convolution + Linear FLOPs per image (forward).</summary>
    public long LayerFlops => Rows.Sum(r => r.LayerFlops);
    /// <summary>Attention-product FLOPs per image (forward).</summary>
    public long AttentionFlops => Rows.Sum(r => r.AttentionFlops);
    /// <summary>Forward FLOPs per image (2 per multiply-add).</summary>
    public long ForwardFlops => LayerFlops + AttentionFlops;
    public double ForwardGFlops => ForwardFlops / 1e9;
    /// <summary>Forward multiply-adds per image in billions (what papers usually label "GFLOPs").</summary>
    public double ForwardGMacs => ForwardFlops / 2e9;
    /// <summary>Training (forward + backward) FLOPs per image in billions, by the <see cref="TrainingFlopsFactor"/> convention.</summary>
    public double TrainingGFlops => TrainingFlopsFactor * ForwardGFlops;

    private ModelSummary(ConvViTConfig config, ModelKind kind, int encoderTokens, IReadOnlyList<SummaryRow> rows)
    {
        Config = config; Kind = kind; EncoderTokens = encoderTokens; Rows = rows;
    }

    /// <summary>The row named <paramref name="name"/> (official top-level name); throws if there is none.</summary>
    public SummaryRow this[string name] =>
        Rows.FirstOrDefault(r => r.Name == name)
        ?? throw new KeyNotFoundException($"no part '{name}'; parts: {string.Join(", ", Rows.Select(r => r.Name))}");

    /// <summary>
    /// Summarises <paramref name="config"/> as a <paramref name="kind"/> model, at <paramref name="inputSize"/> pixels
    /// when given (see <see cref="ConvViTConfig.WithInputSize"/>), else at the config's img_size. Pretraining uses the
    /// config's mask_ratio; the classifier its num_classes and global_pool.
    /// </summary>
    public static ModelSummary Of(ConvViTConfig config, ModelKind kind, int? inputSize = null)
    {
        var c = inputSize is { } s ? config.WithInputSize(s) : config;
        c = kind == ModelKind.Pretrain ? c.ValidatePretrain() : c.Validate();
        return kind == ModelKind.Pretrain ? Pretrain(c) : Classifier(c);
    }

    // ------------------------------------------------------------------ counting primitives (MACs and values)
    static long ConvMacs(long k, long cin, long cout, long groups, long hw) => k * k * (cin / groups) * cout * hw;
    static long ConvParams(long k, long cin, long cout, long groups = 1) => k * k * (cin / groups) * cout + cout;
    static long LinearParams(long cin, long cout, bool bias = true) => cin * cout + (bias ? cout : 0);
    static long LayerNormParams(long d) => 2 * d;

    /// <summary>PatchEmbed: Conv(k = s = p) → LN → GELU, output side <paramref name="side"/>, computed at
    /// <paramref name="positions"/> output positions (default all side²).</summary>
    static SummaryRow PatchEmbedRow(string name, int p, int cin, int cout, int side, long? positions = null, string note = "") =>
        new(name, $"Conv {p}×{p}/{p} {cin}→{cout}, LN, GELU → {side}×{side}{note}",
            ConvParams(p, cin, cout) + LayerNormParams(cout), 0,
            2 * ConvMacs(p, cin, cout, 1, positions ?? (long)side * side), 0);

    /// <summary>
    /// depth × CBlock(d): 1×1 conv1, 5×5 depthwise, 1×1 conv2, CMlp 1×1 fc1/fc2, two LNs, on a side×side map; the
    /// per-position parts on <paramref name="positions"/> of its side² positions (all of them, or the visible ones in the
    /// sparse form), the depthwise convolution always on the whole map.
    /// </summary>
    static SummaryRow CBlocksRow(string name, int depth, int d, double mlpRatio, int side, string note, long? positions = null)
    {
        long h = (int)(d * mlpRatio), hw = (long)side * side, pw = positions ?? hw;
        long perBlock = LayerNormParams(d) + ConvParams(1, d, d) + ConvParams(1, d, d) + ConvParams(5, d, d, groups: d)
                      + LayerNormParams(d) + ConvParams(1, d, h) + ConvParams(1, h, d);
        long macs = ConvMacs(1, d, d, 1, pw) * 2 + ConvMacs(5, d, d, d, hw) + ConvMacs(1, d, h, 1, pw) + ConvMacs(1, h, d, 1, pw);
        return new(name, $"{depth} × CBlock({d}, mlp {h}) on {side}×{side}{note}", depth * perBlock, 0, depth * 2 * macs, 0);
    }

    /// <summary>depth × Block(d): LN, qkv, attention products, proj, LN, MLP fc1/fc2, on n tokens.</summary>
    static SummaryRow BlocksRow(string name, int depth, int d, int heads, double mlpRatio, bool qkvBias, long n)
    {
        long h = (int)(d * mlpRatio);
        long perBlock = LayerNormParams(d) + LinearParams(d, 3L * d, qkvBias) + LinearParams(d, d)
                      + LayerNormParams(d) + LinearParams(d, h) + LinearParams(h, d);
        long linearMacs = n * ((long)d * 3 * d + (long)d * d + d * h + h * d);
        long attentionMacs = 2 * n * n * d;                   // QKᵀ: heads·n·n·(d/heads); attn·V: the same
        return new(name, $"{depth} × Block({d}, {heads} heads, mlp {h}) on {n} tokens",
                   depth * perBlock, 0, depth * 2 * linearMacs, depth * 2 * attentionMacs);
    }

    static SummaryRow LinearRow(string name, int cin, int cout, long tokens, string where) =>
        new(name, $"Linear {cin}→{cout} on {where}", LinearParams(cin, cout), 0, 2 * tokens * cin * cout, 0);

    static SummaryRow NormRow(string name, int d, string where) =>
        new(name, $"LayerNorm({d}) on {where}", LayerNormParams(d), 0, 0, 0);

    /// <summary>patch_embed1 → blocks1 → [decode1] → patch_embed2 → blocks2 → [decode2] → patch_embed3.</summary>
    /// <param name="tokens">Stage-3 tokens whose blocks the stem computes: L (dense), or the visible Lk in pretraining's
    /// sparse form (<c>sparse_stages</c>), where only the depthwise convolutions still run on whole maps.</param>
    static List<SummaryRow> Stem(ConvViTConfig c, bool pretrain, long tokens)
    {
        int s1 = c.ImgSize[1], s2 = c.ImgSize[2], g = c.GridSize, e0 = c.EmbedDim[0], e1 = c.EmbedDim[1], e2 = c.EmbedDim[2];
        bool sparse = tokens != (long)g * g;
        long b1 = (long)(s1 / g) * (s1 / g), b2 = (long)(s2 / g) * (s2 / g);   // stage-1/2 positions per token (16, 4)
        string masked = pretrain ? (c.MaskedConv ? (sparse ? $", visible positions only ({tokens} tokens), depthwise on the full map" : ", masked conv: full map") : ", unmasked") : "";
        string where = sparse ? $" (visible blocks: {tokens} tokens)" : "";
        var rows = new List<SummaryRow>
        {
            PatchEmbedRow("patch_embed1", c.PatchSize[0], c.InChans, e0, s1, tokens * b1, where),
            CBlocksRow("blocks1", c.Depth[0], e0, c.MlpRatio[0], s1, masked, tokens * b1),
        };
        if (pretrain) rows.Add(DecodeRow("stage1_output_decode", c.PatchSize[1] * c.PatchSize[2], e0, e2, g, c.MultiScaleFusion, tokens));
        rows.Add(PatchEmbedRow("patch_embed2", c.PatchSize[1], e0, e1, s2, tokens * b2, where));
        rows.Add(CBlocksRow("blocks2", c.Depth[1], e1, c.MlpRatio[1], s2, masked, tokens * b2));
        if (pretrain) rows.Add(DecodeRow("stage2_output_decode", c.PatchSize[2], e1, e2, g, c.MultiScaleFusion, tokens));
        rows.Add(PatchEmbedRow("patch_embed3", c.PatchSize[2], e1, e2, g, tokens, where));
        return rows;
    }

    static SummaryRow DecodeRow(string name, int k, int cin, int cout, int g, bool runs, long tokens) =>
        new(name, $"Conv {k}×{k}/{k} {cin}→{cout} → {g}×{g}"
                  + (!runs ? " (not run: multi_scale_fusion off)" : tokens == (long)g * g ? " (all tokens, gathered after)" : $" ({tokens} visible tokens)"),
            ConvParams(k, cin, cout), 0, runs ? 2 * ConvMacs(k, cin, cout, 1, tokens) : 0, 0);

    static ModelSummary Classifier(ConvViTConfig c)
    {
        int e2 = c.EmbedDim[2], L = c.NumPatches;
        var rows = Stem(c, pretrain: false, L);
        rows.Add(LinearRow("patch_embed4", e2, e2, L, $"{L} tokens"));
        rows.Add(new("pos_embed", $"[1,{L},{e2}] learnable, added", (long)L * e2, 0, 0, 0));
        rows.Add(BlocksRow("blocks3", c.Depth[2], e2, c.NumHeads, c.MlpRatio[2], c.QkvBias, L));
        rows.Add(c.GlobalPool ? NormRow("fc_norm", e2, "the token mean") : NormRow("norm", e2, $"{L} tokens (token 0 kept)"));
        rows.Add(c.NumClasses > 0 ? LinearRow("head", e2, c.NumClasses, 1, "1 pooled vector")
                                  : new SummaryRow("head", "Identity (num_classes ≤ 0)", 0, 0, 0, 0));
        return new ModelSummary(c, ModelKind.Classifier, L, rows);
    }

    static ModelSummary Pretrain(ConvViTConfig c)
    {
        int e2 = c.EmbedDim[2], dd = c.DecoderEmbedDim, L = c.NumPatches;
        int lk = Masking.LenKeep(L, c.MaskRatio);
        bool sparse = c.SparseStages && c.MaskedConv;   // MaskedAutoencoderConvViT.UsesSparseStages
        var rows = Stem(c, pretrain: true, sparse ? lk : L);
        rows.Add(sparse ? LinearRow("patch_embed4", e2, e2, lk, $"{lk} visible tokens")
                        : LinearRow("patch_embed4", e2, e2, L, $"{L} tokens (before the gather)"));
        rows.Add(new("pos_embed", $"[1,{L},{e2}] frozen sin-cos, added", 0, (long)L * e2, 0, 0));
        rows.Add(BlocksRow("blocks3", c.Depth[2], e2, c.NumHeads, c.MlpRatio[2], c.QkvBias, lk));
        rows.Add(NormRow("norm", e2, $"{lk} visible tokens"));
        rows.Add(LinearRow("decoder_embed", e2, dd, lk, $"{lk} visible tokens"));
        rows.Add(new("mask_token", $"[1,1,{dd}], fills {L - lk} masked positions", dd, 0, 0, 0));
        rows.Add(new("decoder_pos_embed", $"[1,{L},{dd}] frozen sin-cos, added", 0, (long)L * dd, 0, 0));
        rows.Add(BlocksRow("decoder_blocks", c.DecoderDepth, dd, c.DecoderNumHeads, c.MlpRatio[0], c.QkvBias, L));
        rows.Add(NormRow("decoder_norm", dd, $"{L} tokens"));
        rows.Add(LinearRow("decoder_pred", dd, c.PatchDim, L, $"{L} tokens"));
        return new ModelSummary(c, ModelKind.Pretrain, lk, rows);
    }

    // ------------------------------------------------------------------ cross-check with a built module
    /// <summary>
    /// Per part: the analytic parameter count and the built module's (sum of numel over its state_dict entries named
    /// <c>part</c> or <c>part.*</c>), plus a row "(other)" for state entries no part claims (expected 0).
    /// </summary>
    public IReadOnlyList<(string Part, long Expected, long Actual)> CompareWith(nn.Module model)
    {
        var state = model.state_dict();
        var claimed = new HashSet<string>();
        var result = new List<(string, long, long)>();
        foreach (var row in Rows)
        {
            long actual = 0;
            foreach (var (key, t) in state)
                if (key == row.Name || key.StartsWith(row.Name + ".", StringComparison.Ordinal)) { actual += t.numel(); claimed.Add(key); }
            result.Add((row.Name, row.Params, actual));
        }
        long other = state.Where(kv => !claimed.Contains(kv.Key)).Sum(kv => kv.Value.numel());
        result.Add(("(other)", 0, other));
        return result;
    }

    /// <summary>
    /// Throws <see cref="InvalidOperationException"/> unless the built <paramref name="model"/> has exactly the analytic
    /// counts: <see cref="ModuleStats.StateCount"/> = <see cref="TotalParams"/>, <see cref="ModuleStats.TrainableCount"/>
    /// = <see cref="TrainableParams"/>, and every part as in <see cref="CompareWith"/>. (A linear-probe classifier, whose
    /// backbone is frozen and head wrapped in BatchNorm, is not what this summary describes.)
    /// </summary>
    public void VerifyAgainst(nn.Module model)
    {
        var problems = CompareWith(model).Where(x => x.Expected != x.Actual)
            .Select(x => $"{x.Part}: analytic {x.Expected:N0}, built {x.Actual:N0}").ToList();
        long state = model.StateCount(), trainable = model.TrainableCount();
        if (state != TotalParams) problems.Add($"total: analytic {TotalParams:N0}, built StateCount {state:N0}");
        if (trainable != TrainableParams) problems.Add($"trainable: analytic {TrainableParams:N0}, built {trainable:N0}");
        if (problems.Count > 0)
            throw new InvalidOperationException($"{Kind} summary at {InputSize} px does not match the built model: " + string.Join("; ", problems));
    }

    // ------------------------------------------------------------------ text
    /// <summary>SI-style short form: 46.17 G, 786.4 M, 12.3 K, 0.</summary>
    public static string Short(double v) => v switch
    {
        0 => "0",
        >= 1e9 => (v / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " G",
        >= 1e6 => (v / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + " M",
        >= 1e3 => (v / 1e3).ToString("0.00", CultureInfo.InvariantCulture) + " K",
        _ => v.ToString("0", CultureInfo.InvariantCulture),
    };

    /// <summary>A plain-text table: one line per part, then totals and the counting convention.</summary>
    public string ToTable()
    {
        var inv = CultureInfo.InvariantCulture;
        string N(long v) => v.ToString("N0", inv);
        var sb = new StringBuilder();
        var c = Config;
        sb.Append(Kind == ModelKind.Pretrain
            ? $"ConvMAE pretraining model, {InputSize} px: L = {Tokens} tokens, {EncoderTokens} visible (mask_ratio {c.MaskRatio.ToString(inv)})"
            : $"ConvViT classifier, {InputSize} px: L = {Tokens} tokens, {(c.NumClasses > 0 ? c.NumClasses + " classes" : "no head")}, {(c.GlobalPool ? "global pool" : "token 0")}");
        sb.AppendLine($"; embed {string.Join("/", c.EmbedDim)}, depth {string.Join("/", c.Depth)}"
                      + (Kind == ModelKind.Pretrain ? $", decoder {c.DecoderEmbedDim}×{c.DecoderDepth}" : ""));
        int w = Math.Max(20, Rows.Max(r => r.Name.Length) + 1);
        string Line(string name, string tr, string fr, string fwd, string att, string share, string detail) =>
            $"{name.PadRight(w)} {tr,13} {fr,10} {fwd,11} {att,11} {share,6}  {detail}".TrimEnd();
        sb.AppendLine(Line("part", "trainable", "frozen", "fwd FLOPs", "attn part", "share", "detail"));
        sb.AppendLine(new string('-', w + 70));
        double total = Math.Max(1, ForwardFlops);
        foreach (var r in Rows)
            sb.AppendLine(Line(r.Name, N(r.TrainableParams), N(r.FrozenParams), Short(r.ForwardFlops), Short(r.AttentionFlops),
                               (100.0 * r.ForwardFlops / total).ToString("0.0", inv) + "%", r.Detail));
        sb.AppendLine(new string('-', w + 70));
        sb.AppendLine(Line("total", N(TrainableParams), N(FrozenParams), Short(ForwardFlops), Short(AttentionFlops), "100%",
                           $"{N(TotalParams)} state values"));
        static string Unit(double v, string unit) => Short(v) is var t && char.IsLetter(t[^1]) ? t + unit : t + " " + unit;
        sb.AppendLine($"forward  {Unit(ForwardFlops, "FLOPs")} per image = {Unit(ForwardFlops / 2.0, "MACs")} (multiply-adds: the \"FLOPs\" papers usually quote)");
        sb.AppendLine($"training {Unit(TrainingFlopsFactor * ForwardFlops, "FLOPs")} per image (forward + backward ≈ {TrainingFlopsFactor.ToString(inv)} × forward)");
        sb.Append("counted: conv, linear and attention-product multiply-adds (1 MAC = 2 FLOPs); "
                + "not counted: biases, LayerNorm, GELU, softmax, adds, masking, gathers, pooling, loss");
        return sb.ToString();
    }

    public override string ToString() => ToTable();
}
