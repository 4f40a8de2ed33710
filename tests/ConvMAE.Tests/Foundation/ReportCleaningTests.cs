using System.Text.Json.Nodes;
using ConvMAE.Env;
using Xunit;

namespace ConvMAE.Tests.Foundation;

/// <summary>What the runner removes from an executed notebook before it becomes a report.</summary>
public class ReportCleaningTests
{
    static JsonObject Html(string html) => new() { ["output_type"] = "display_data", ["data"] = new JsonObject { ["text/html"] = html } };
    static JsonObject Stderr(string text) => new() { ["output_type"] = "stream", ["name"] = "stderr", ["text"] = text };

    [Fact]
    public void Kernel_bootstrap_CS1701_notes_and_stale_live_views_go_and_everything_else_stays()
    {
        using var dir = TestPaths.Temp();
        var path = dir.File("nb.ipynb");
        const string cs1701 = "warning CS1701: Assuming assembly reference 'System.Runtime.Numerics, Version=8.0.0.0' matches ...";
        var nb = new JsonObject
        {
            ["cells"] = new JsonArray(
                new JsonObject { ["cell_type"] = "code", ["outputs"] = new JsonArray(Html("<script>probeAddresses(['http://192.0.2.1'])</script>"), Html("<table>runtime</table>")) },
                new JsonObject { ["cell_type"] = "code", ["outputs"] = new JsonArray(
                    Stderr(cs1701 + "\n"),
                    Html("<div class=\"convmae-live\">first state</div>"),
                    Stderr(cs1701 + "\nerror CS0103: The name 'x' does not exist\n"),
                    Html("<div class=\"convmae-live\">final state</div>"),
                    Html("<div>table of results</div>")) },
                new JsonObject { ["cell_type"] = "markdown", ["source"] = "text" }),
        };
        File.WriteAllText(path, nb.ToJsonString());

        NotebookRunner.CleanForReport(path);

        var cells = JsonNode.Parse(File.ReadAllText(path))!["cells"]!.AsArray();
        var first = cells[0]!["outputs"]!.AsArray();
        Assert.Equal("<table>runtime</table>", (string?)Assert.Single(first)!["data"]!["text/html"]);
        var second = cells[1]!["outputs"]!.AsArray().Select(o => o!.ToJsonString()).ToList();
        Assert.Equal(3, second.Count);
        Assert.Contains("error CS0103", second[0]);                 // a real diagnostic stays, its CS1701 line goes
        Assert.DoesNotContain("CS1701", second[0]);
        Assert.Contains("final state", second[1]);
        Assert.DoesNotContain(second, o => o.Contains("first state"));
        Assert.Contains("table of results", second[2]);
    }
}
