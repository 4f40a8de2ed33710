using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Serialization;

namespace ConvMAE.Cli;

/// <summary>
/// Command-line flags generated from an args record: every property with a [JsonPropertyName] is a flag of that
/// name (the official ones: --batch_size, --blr, ...), typed by the property, defaulting to the record's value.
/// bool flags are switches (--norm_pix_loss) with a --no_ form (--no_pin_mem); "None" clears a nullable value.
/// </summary>
public static class Flags
{
    sealed record Flag(string Name, PropertyInfo Property, string Help);

    /// <summary>Official aliases: main_finetune/main_linprobe's --cls_token is store_false into global_pool.</summary>
    static readonly Dictionary<string, string> Aliases = new() { ["cls_token"] = "no_global_pool", ["no_pin_mem"] = "no_pin_mem" };

    static List<Flag> Of(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
         .Select(p => (p, name: p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name))
         .Where(x => x.name is not null && x.p.CanWrite)
         .Select(x => new Flag(x.name!, x.p, Recipes.FlagHelpAttribute.For(t, x.name!)
                                              ?? x.p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? ""))
         .OrderBy(f => f.Name, StringComparer.Ordinal).ToList();

    /// <summary>Parses <paramref name="args"/> onto a fresh <typeparamref name="T"/>; throws <see cref="ArgumentException"/>
    /// naming the flag for an unknown flag or a bad value.</summary>
    public static T Parse<T>(IReadOnlyList<string> args) where T : new()
    {
        var flags = Of(typeof(T)).ToDictionary(f => f.Name);
        var result = new T();
        for (int i = 0; i < args.Count; i++)
        {
            var raw = args[i];
            if (!raw.StartsWith("--")) throw new ArgumentException($"unexpected argument '{raw}' (flags start with --)");
            var name = raw[2..].Replace('-', '_');
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) (name, inline) = (name[..eq], name[(eq + 1)..]);
            name = Aliases.GetValueOrDefault(name, name);
            bool negated = false;
            if (!flags.ContainsKey(name) && name.StartsWith("no_") && flags.TryGetValue(name[3..], out var positive) &&
                positive.Property.PropertyType == typeof(bool))
                (name, negated) = (name[3..], true);
            if (!flags.TryGetValue(name, out var flag))
                throw new ArgumentException($"unknown flag --{name}; see --help for the flags of this command");
            var type = flag.Property.PropertyType;
            object? value;
            if (type == typeof(bool))
                value = inline is null ? !negated : bool.Parse(inline);
            else
            {
                var text = inline ?? (i + 1 < args.Count ? args[++i] : throw new ArgumentException($"--{name} needs a value"));
                value = Convert(name, text, type);
            }
            flag.Property.SetValue(result, value);
        }
        return result;
    }

    static object? Convert(string name, string text, Type type)
    {
        var under = Nullable.GetUnderlyingType(type);
        if (under is not null || !type.IsValueType)
            if (text is "None" or "none" or "") return type == typeof(string) ? "" : null;
        var t = under ?? type;
        try
        {
            if (t == typeof(string)) return text;
            if (t == typeof(int)) return int.Parse(text, CultureInfo.InvariantCulture);
            if (t == typeof(long)) return long.Parse(text, CultureInfo.InvariantCulture);
            if (t == typeof(double)) return double.Parse(text, CultureInfo.InvariantCulture);
        }
        catch (FormatException) { }
        catch (OverflowException) { }
        throw new ArgumentException($"--{name} '{text}': expected {(t == typeof(double) ? "a number" : t == typeof(string) ? "text" : "a whole number")}");
    }

    public static string Help<T>(string command, string summary) where T : new()
    {
        var defaults = new T();
        var lines = new List<string> { $"convmae {command} [flags]", "", summary, "" };
        foreach (var f in Of(typeof(T)))
        {
            var v = f.Property.GetValue(defaults);
            var shown = f.Property.PropertyType == typeof(bool) ? (v is true ? "on (--no_" + f.Name + " to turn off)" : "off")
                      : v is null ? "None" : System.Convert.ToString(v, CultureInfo.InvariantCulture);
            lines.Add($"  --{f.Name,-20} {f.Help}{(f.Help.Length > 0 ? " " : "")}[default: {shown}]");
        }
        return string.Join(Environment.NewLine, lines);
    }
}
