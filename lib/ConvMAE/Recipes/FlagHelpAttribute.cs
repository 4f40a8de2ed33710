namespace ConvMAE.Recipes;

/// <summary>
/// Replaces the help text of one inherited flag for this args record and the records derived from it: the shared
/// <see cref="RunArgs"/> describe --model and --data_path for the image recipes, while video, segmentation and
/// detection take other presets and dataset layouts. The nearest declaration wins (a derived record over its base).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = true)]
public sealed class FlagHelpAttribute(string flag, string help) : Attribute
{
    public string Flag { get; } = flag;
    public string Help { get; } = help;

    /// <summary>The help of <paramref name="flag"/> declared on <paramref name="type"/> or its nearest base, or null.</summary>
    public static string? For(Type type, string flag)
    {
        for (var t = type; t is not null; t = t.BaseType)
            foreach (FlagHelpAttribute a in t.GetCustomAttributes(typeof(FlagHelpAttribute), inherit: false))
                if (a.Flag == flag) return a.Help;
        return null;
    }
}
