using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace ConvMAE.Interactive;

/// <summary>
/// One HTML output of a cell that is replaced in place, in Jupyter front ends too.
///
/// Why not <c>value.Display()</c> and <c>DisplayedValue.Update</c>: in dotnet-interactive 1.0.712001 (the pinned
/// kernel) <c>Display()</c> publishes the value under one display id and returns a <c>DisplayedValue</c> whose
/// <c>Update</c> publishes under a fresh one, and its Jupyter bridge turns each id into the message's
/// <c>transient.display_id</c>. So Jupyter receives <c>update_display_data</c> for an id it never displayed and drops
/// it: the first state stays on screen (seen in the classic notebook page and in nbconvert). Publishing both events
/// with one id of our own makes the front end replace the output.
/// </summary>
public sealed class LiveOutput
{
    readonly string displayId = "convmae-" + Guid.NewGuid().ToString("N");
    KernelInvocationContext? context;
    bool shown;

    /// <summary>Shows <paramref name="html"/> the first time, replaces it afterwards. Outside a kernel (a test, a
    /// console) there is no cell to show it in, and nothing happens.</summary>
    public void Show(string html)
    {
        // The cell's context is current on the thread that runs it; keep it for updates sent from elsewhere.
        if (KernelInvocationContext.Current is { } current) context = current;
        if (context is null) return;
        var values = new[] { new FormattedValue(HtmlFormatter.MimeType, html) };
        context.Publish(shown ? new DisplayedValueUpdated(html, displayId, context.Command, values)
                              : new DisplayedValueProduced(html, context.Command, values, displayId));
        shown = true;
    }
}
