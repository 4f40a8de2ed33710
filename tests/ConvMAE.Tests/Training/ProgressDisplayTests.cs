using ConvMAE.Cli;
using ConvMAE.Training;
using Xunit;

namespace ConvMAE.Tests.Training;

public class ProgressDisplayTests
{
    static StepReport Step(int step) =>
        new("pretrain", 0, 3, step, 40, step + 1, 0.5 + step / 100.0, 1e-4, 250, TimeSpan.FromSeconds(step), TimeSpan.FromSeconds(80 - step));

    [Fact]
    public void Redirected_output_gets_about_ten_plain_lines_per_epoch_with_loss_lr_speed_and_eta()
    {
        var text = new StringWriter();
        var display = new ProgressDisplay(text, interactive: false);
        for (int s = 0; s < 40; s++) display.Step(Step(s));
        var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(10, lines.Length);                       // every 4th step of 40
        Assert.DoesNotContain("\r", text.ToString());
        Assert.Matches(@"^pretrain epoch 1/3 step 40/40 loss 0\.8900 lr 1\.00E-004 250\.0 img/s ETA 00:41$", lines[^1].TrimEnd());
    }

    [Fact]
    public void A_terminal_gets_one_line_rewritten_in_place_with_a_bar()
    {
        var text = new StringWriter();
        var display = new ProgressDisplay(text, interactive: true);
        display.Step(Step(19));
        var s = text.ToString();
        Assert.StartsWith("\r[############------------] pretrain epoch 1/3 step 20/40", s);
        Assert.DoesNotContain("\n", s);
    }
}
