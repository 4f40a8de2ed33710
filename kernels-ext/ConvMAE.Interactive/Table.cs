using System.Globalization;
using System.Reflection;
using Microsoft.DotNet.Interactive.Formatting;

namespace ConvMAE.Interactive;

/// <summary>
/// Rows of any record or anonymous type shown as one HTML table, a column per public property (the kernel's own
/// formatter shows such lists as one expandable object per row). Numbers are right-aligned in invariant culture.
/// </summary>
public sealed class Table
{
    public IReadOnlyList<string> Columns { get; }
    public IReadOnlyList<IReadOnlyList<object?>> Rows { get; }

    Table(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<object?>> rows) => (Columns, Rows) = (columns, rows);

    static Table() => Formatter.Register<Table>((t, w) => w.Write(t.Html()), HtmlFormatter.MimeType);

    public static Table Of<T>(IEnumerable<T> rows)
    {
        var props = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0).ToArray();
        return new Table(props.Select(p => p.Name).ToList(),
                         rows.Select(r => (IReadOnlyList<object?>)props.Select(p => p.GetValue(r)).ToList()).ToList());
    }

    public static string Cell(object? v) => v switch
    {
        null => "",
        double d => double.IsNaN(d) ? "–" : d.ToString("G6", CultureInfo.InvariantCulture),
        float f => float.IsNaN(f) ? "–" : f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    public string Html()
    {
        var sb = new System.Text.StringBuilder("<table class=\"convmae-table\"><tr>");
        foreach (var c in Columns) sb.Append($"<th style=\"text-align:left\">{RuntimeTable.Html(c)}</th>");
        sb.Append("</tr>");
        foreach (var row in Rows)
        {
            sb.Append("<tr>");
            foreach (var v in row)
            {
                var align = v is double or float or int or long or decimal ? "right" : "left";
                sb.Append($"<td style=\"text-align:{align}\">{RuntimeTable.Html(Cell(v))}</td>");
            }
            sb.Append("</tr>");
        }
        return sb.Append("</table>").ToString();
    }

    public override string ToString() =>
        string.Join("\n", new[] { string.Join("\t", Columns) }.Concat(Rows.Select(r => string.Join("\t", r.Select(Cell)))));
}
