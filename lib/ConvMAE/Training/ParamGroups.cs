using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ConvMAE.Training;

/// <summary>A named set of parameters with its weight decay and learning-rate scale.</summary>
public sealed record ParamGroup(string Name, double WeightDecay, double LrScale, IReadOnlyList<(string Name, Parameter Param)> Params);

/// <summary>What a rule decides for one trainable parameter: its group's name, weight decay and lr scale.</summary>
public readonly record struct ParamSetting(string Group, double WeightDecay, double LrScale);

/// <summary>A model family's grouping rule, given a parameter's full name (with any prefix such as "backbone.").</summary>
public delegate ParamSetting ParamRule(string name, Parameter p);

/// <summary>
/// The official optimizer parameter groupings, as one builder and a rule per model family. Names are the model's
/// own (prefixed inside a detector or segmenter: "backbone.blocks3.4..."); rules that look at a backbone take its
/// prefix, so a ConvMAE backbone gets the same layer ids wherever it sits.
/// </summary>
public static class ParamGroups
{
    /// <summary>Groups trainable parameters by <paramref name="rule"/>, in order of first use (as the official
    /// dictionaries do); frozen parameters are left out.</summary>
    public static List<ParamGroup> Build(IEnumerable<(string Name, Parameter Param)> named, ParamRule rule)
    {
        var groups = new Dictionary<string, (ParamSetting Setting, List<(string, Parameter)> Params)>();
        var order = new List<string>();
        foreach (var (name, p) in named)
        {
            if (!p.requires_grad) continue;
            var s = rule(name, p);
            if (!groups.TryGetValue(s.Group, out var g))
            {
                groups[s.Group] = g = (s, []);
                order.Add(s.Group);
            }
            else if (g.Setting != s)
                throw new InvalidOperationException($"parameter group '{s.Group}': '{name}' asks for weight decay {s.WeightDecay} and lr scale " +
                                                    $"{s.LrScale}, the group has {g.Setting.WeightDecay} and {g.Setting.LrScale}");
            g.Params.Add((name, p));
        }
        return order.Select(k => new ParamGroup(k, groups[k].Setting.WeightDecay, groups[k].Setting.LrScale, groups[k].Params)).ToList();
    }

    /// <summary>Pretraining (timm 0.3.2 optim_factory.add_weight_decay): no decay for 1-D parameters and names ending
    /// in ".bias"; frozen parameters (the fixed sin-cos tables) are left out. Order: [no_decay, decay], always both.</summary>
    public static List<ParamGroup> WeightDecay(IEnumerable<(string Name, Parameter Param)> named, double weightDecay)
    {
        var built = Build(named, (name, p) => p.dim() == 1 || name.EndsWith(".bias", StringComparison.Ordinal)
            ? new ParamSetting("no_decay", 0.0, 1.0) : new ParamSetting("decay", weightDecay, 1.0));
        ParamGroup Named(string n, double wd) => built.FirstOrDefault(g => g.Name == n) ?? new ParamGroup(n, wd, 1.0, []);
        return [Named("no_decay", 0.0), Named("decay", weightDecay)];
    }

    /// <summary>
    /// Finetuning (official util/lr_decay.param_groups_lrd with its get_layer_id_for_vit, as ConvMAE uses it):
    /// layer id 0 for pos_embed, cls_token, patch_embed*, blocks1.*, blocks2.*; i+1 for blocks3.i.*; num_layers for
    /// the rest (norms, head), where num_layers = depth3 + 1; scale = layer_decay^(num_layers − id). No decay for
    /// 1-D parameters and the no_weight_decay names (pos_embed, cls_token); unlike pretraining, a ".bias" suffix
    /// alone does not exempt (every bias is 1-D anyway). Groups appear in order of first use, named
    /// "layer_{id}_{decay|no_decay}", as the official dictionary does. <paramref name="prefix"/>: where the ConvViT
    /// sits in a larger model ("" for the classifier itself).
    /// </summary>
    public static List<ParamGroup> LayerDecay(IEnumerable<(string Name, Parameter Param)> named, double weightDecay, double layerDecay,
                                              int transformerDepth, IReadOnlySet<string>? noWeightDecay = null, string prefix = "")
    {
        noWeightDecay ??= new HashSet<string> { "pos_embed", "cls_token" };
        int numLayers = transformerDepth + 1;
        return Build(named, (name, p) =>
        {
            bool noDecay = p.dim() == 1 || noWeightDecay.Contains(Unprefixed(name, prefix));
            int id = LayerId(name, numLayers, prefix);
            return new ParamSetting($"layer_{id}_{(noDecay ? "no_decay" : "decay")}", noDecay ? 0.0 : weightDecay, Math.Pow(layerDecay, numLayers - id));
        });
    }

    /// <summary>
    /// Segmentation (official SEG/mmcv_custom/layer_decay_optimizer_constructor.py): num_layers = depth3 + 2 (13 for
    /// ConvMAE-B); layer 0 for the backbone's cls_token, mask_token, pos_embed, patch_embed*, blocks1, blocks2;
    /// i+1 for backbone.blocks3.i; num_layers − 1 for everything else (the rest of the backbone, the heads); scale =
    /// layer_decay^(num_layers − 1 − id). Quirk reproduced: the no-decay check compares the full (prefixed) name with
    /// "pos_embed"/"cls_token", which never matches, so only 1-D parameters and ".bias" names escape weight decay and
    /// the position embedding and relative-position tables are decayed.
    /// </summary>
    public static List<ParamGroup> SegmentationLayerDecay(IEnumerable<(string Name, Parameter Param)> named, double weightDecay,
                                                          double layerDecay, int transformerDepth, string prefix = "backbone.")
    {
        int numLayers = transformerDepth + 2;
        return Build(named, (name, p) =>
        {
            bool noDecay = p.dim() == 1 || name.EndsWith(".bias", StringComparison.Ordinal) || name is "pos_embed" or "cls_token";
            int id = SegmentationLayerId(name, numLayers, prefix);
            return new ParamSetting($"layer_{id}_{(noDecay ? "no_decay" : "decay")}", noDecay ? 0.0 : weightDecay,
                                    Math.Pow(layerDecay, numLayers - id - 1));
        });
    }

    /// <summary>
    /// Detection (detectron2 solver.build.get_default_optimizer_params as ConvMAE's config calls it): weight decay for
    /// every parameter (biases included, bias_lr_factor 1) except those of normalisation layers (weight_decay_norm)
    /// and those whose own name, within their module, has an override (ConvMAE: pos_embed and
    /// relative_position_bias_table → 0). No layer decay. Groups "wd_{value}" in order of first use.
    /// </summary>
    public static List<ParamGroup> DetectionWeightDecay(nn.Module model, double weightDecay, double weightDecayNorm = 0.0,
                                                        IReadOnlyDictionary<string, double>? overrides = null)
    {
        overrides ??= new Dictionary<string, double> { ["pos_embed"] = 0.0, ["relative_position_bias_table"] = 0.0 };
        var normParams = NormParameterNames(model);
        return Build(model.named_parameters(), (name, p) =>
        {
            double wd = normParams.Contains(name) ? weightDecayNorm : weightDecay;
            if (overrides.TryGetValue(name[(name.LastIndexOf('.') + 1)..], out var o)) wd = o;
            return new ParamSetting(FormattableString.Invariant($"wd_{wd}"), wd, 1.0);
        });
    }

    /// <summary>Full names of the parameters owned directly by normalisation modules (detectron2's norm_module_types:
    /// BatchNorm, GroupNorm, InstanceNorm, LayerNorm, LocalResponseNorm).</summary>
    public static HashSet<string> NormParameterNames(nn.Module model)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (moduleName, m) in model.named_modules())
        {
            if (m is not (BatchNorm1d or BatchNorm2d or BatchNorm3d or GroupNorm or InstanceNorm1d or InstanceNorm2d or InstanceNorm3d
                          or LayerNorm or LocalResponseNorm)) continue;
            foreach (var (pn, _) in m.named_parameters(recurse: false))
                names.Add(moduleName.Length == 0 ? pn : $"{moduleName}.{pn}");
        }
        return names;
    }

    static string Unprefixed(string name, string prefix) =>
        prefix.Length > 0 && name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name;

    /// <summary>get_layer_id_for_vit as ConvMAE's finetuning applies it to ConvViT parameter names; names outside
    /// <paramref name="prefix"/> (heads of a larger model) get num_layers.</summary>
    public static int LayerId(string name, int numLayers, string prefix = "")
    {
        if (prefix.Length > 0 && !name.StartsWith(prefix, StringComparison.Ordinal)) return numLayers;
        name = Unprefixed(name, prefix);
        if (name is "cls_token" or "pos_embed") return 0;
        if (name.StartsWith("patch_embed", StringComparison.Ordinal)) return 0;
        if (name.StartsWith("blocks1", StringComparison.Ordinal) || name.StartsWith("blocks2", StringComparison.Ordinal)) return 0;
        if (name.StartsWith("blocks3.", StringComparison.Ordinal)) return int.Parse(name.Split('.')[1]) + 1;
        return numLayers;
    }

    /// <summary>get_num_layer_for_vit of the segmentation constructor (names carry the backbone prefix).</summary>
    public static int SegmentationLayerId(string name, int numLayers, string prefix = "backbone.")
    {
        if (name == prefix + "cls_token" || name == prefix + "mask_token" || name == prefix + "pos_embed") return 0;
        if (name.StartsWith(prefix + "patch_embed", StringComparison.Ordinal)) return 0;
        if (name.StartsWith(prefix + "blocks1", StringComparison.Ordinal) || name.StartsWith(prefix + "blocks2", StringComparison.Ordinal)) return 0;
        if (name.StartsWith(prefix + "blocks3", StringComparison.Ordinal)) return int.Parse(name[prefix.Length..].Split('.')[1]) + 1;
        return numLayers - 1;
    }
}
