using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace ConvMAE.Training;

/// <summary>A named set of parameters with its weight decay and learning-rate scale.</summary>
public sealed record ParamGroup(string Name, double WeightDecay, double LrScale, IReadOnlyList<(string Name, Parameter Param)> Params);

/// <summary>The official optimizer parameter groupings.</summary>
public static class ParamGroups
{
    /// <summary>Pretraining (timm 0.3.2 optim_factory.add_weight_decay): no decay for 1-D parameters and names ending
    /// in ".bias"; frozen parameters (the fixed sin-cos tables) are left out. Order: [no_decay, decay].</summary>
    public static List<ParamGroup> WeightDecay(IEnumerable<(string Name, Parameter Param)> named, double weightDecay)
    {
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        foreach (var (name, p) in named)
        {
            if (!p.requires_grad) continue;
            if (p.dim() == 1 || name.EndsWith(".bias", StringComparison.Ordinal)) noDecay.Add((name, p));
            else decay.Add((name, p));
        }
        return [new("no_decay", 0.0, 1.0, noDecay), new("decay", weightDecay, 1.0, decay)];
    }

    /// <summary>
    /// Finetuning (official util/lr_decay.param_groups_lrd with its get_layer_id_for_vit, as ConvMAE uses it):
    /// layer id 0 for pos_embed, cls_token, patch_embed*, blocks1.*, blocks2.*; i+1 for blocks3.i.*; num_layers for
    /// the rest (norms, head), where num_layers = depth3 + 1; scale = layer_decay^(num_layers − id). No decay for
    /// 1-D parameters and the no_weight_decay names (pos_embed, cls_token); unlike pretraining, a ".bias" suffix
    /// alone does not exempt (every bias is 1-D anyway). Groups appear in order of first use, named
    /// "layer_{id}_{decay|no_decay}", as the official dictionary does.
    /// </summary>
    public static List<ParamGroup> LayerDecay(IEnumerable<(string Name, Parameter Param)> named, double weightDecay, double layerDecay,
                                              int transformerDepth, IReadOnlySet<string>? noWeightDecay = null)
    {
        noWeightDecay ??= new HashSet<string> { "pos_embed", "cls_token" };
        int numLayers = transformerDepth + 1;
        var groups = new Dictionary<string, (double Wd, double Scale, List<(string, Parameter)> Params)>();
        var order = new List<string>();
        foreach (var (name, p) in named)
        {
            if (!p.requires_grad) continue;
            bool noDecay = p.dim() == 1 || noWeightDecay.Contains(name);
            int id = LayerId(name, numLayers);
            var key = $"layer_{id}_{(noDecay ? "no_decay" : "decay")}";
            if (!groups.TryGetValue(key, out var g))
            {
                g = (noDecay ? 0.0 : weightDecay, Math.Pow(layerDecay, numLayers - id), []);
                groups[key] = g;
                order.Add(key);
            }
            g.Params.Add((name, p));
        }
        return order.Select(k => new ParamGroup(k, groups[k].Wd, groups[k].Scale, groups[k].Params)).ToList();
    }

    /// <summary>get_layer_id_for_vit as ConvMAE's finetuning applies it to ConvViT parameter names.</summary>
    public static int LayerId(string name, int numLayers)
    {
        if (name is "cls_token" or "pos_embed") return 0;
        if (name.StartsWith("patch_embed", StringComparison.Ordinal)) return 0;
        if (name.StartsWith("blocks1", StringComparison.Ordinal) || name.StartsWith("blocks2", StringComparison.Ordinal)) return 0;
        if (name.StartsWith("blocks3.", StringComparison.Ordinal)) return int.Parse(name.Split('.')[1]) + 1;
        return numLayers;
    }
}
