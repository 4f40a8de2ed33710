using ConvMAE.Modeling;
using Microsoft.DotNet.Interactive.Formatting;
using static TorchSharp.torch;

namespace ConvMAE.Interactive;

/// <summary>
/// The MAE paper's figure: one row per image, columns original | masked | reconstruction | reconstruction with the
/// visible blocks pasted back. Displayed as an HTML table of PNG images (class "convmae-recon-grid").
/// </summary>
public sealed record ReconstructionGrid(ReconstructionImages Images, string Title)
{
    public static readonly string[] Columns = ["original", "masked", "reconstruction", "reconstruction + visible"];

    static ReconstructionGrid() => Formatter.Register<ReconstructionGrid>((g, w) => w.Write(g.Html()), HtmlFormatter.MimeType);

    public string Html()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append($"<div class=\"convmae-recon-grid\"><div style=\"font-weight:bold\">{RuntimeTable.Html(Title)} " +
                  $"(loss on the masked blocks: {Images.Loss:F4})</div><table><tr>");
        foreach (var c in Columns) sb.Append($"<th style=\"text-align:center\">{c}</th>");
        sb.Append("</tr>");
        long n = Images.Original.shape[0];
        for (long i = 0; i < n; i++)
        {
            sb.Append("<tr>");
            foreach (var t in new[] { Images.Original, Images.Masked, Images.Reconstruction, Images.Pasted })
            {
                using var img = t[i];
                sb.Append("<td>").Append(TensorFormatters.ImageHtml(img, caption: "")).Append("</td>");
            }
            sb.Append("</tr>");
        }
        return sb.Append("</table></div>").ToString();
    }
}
