using ConvMAE.Env;
using Xunit;

namespace ConvMAE.Tests.Foundation;

public class SetupTests
{
    [Fact]
    [Trait("Category", "Notebook")]
    public void Running_setup_again_changes_nothing_and_says_so()
    {
        var repo = new Repo(TestPaths.RepoRoot);
        new Setup(repo, TextWriter.Null).RunAll();          // whatever the state, after this it is complete
        var log = new StringWriter();
        var second = new Setup(repo, log);
        second.RunAll();
        Assert.Equal(0, second.Changed);
        Assert.Contains("nothing changed", log.ToString());
        Assert.DoesNotContain("wrote", log.ToString());
        Assert.DoesNotContain("installed", log.ToString());
    }

    [Fact]
    public void Report_html_inlines_plotly_and_drops_remote_scripts()
    {
        var html = "<html><head><meta charset=\"utf-8\"><script src=\"https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js\"></script>" +
                   "</head><body><div>chart</div></body></html>";
        var result = ReportHtml.MakeSelfContained(html, "window.Plotly={};var s='</script>';");
        Assert.DoesNotContain("cdnjs.cloudflare.com", result);
        Assert.Contains("window.Plotly={};var s='<\\/script>';", result);
        Assert.True(result.IndexOf("window.Plotly", StringComparison.Ordinal) < result.IndexOf("<body>", StringComparison.Ordinal));
        Assert.Throws<InvalidDataException>(() => ReportHtml.MakeSelfContained("<p>no head</p>", ""));
    }
}
