using ConvMAE;
using ConvMAE.Cli;
using ConvMAE.Interop;
using ConvMAE.Recipes;
using ConvMAE.Training;

// The kit's command line: the official scripts' commands and flags (main_pretrain, main_finetune, main_linprobe),
// plus summary and info. `convmae <command> --help` lists a command's flags with their defaults.
var command = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToList();
var display = ProgressDisplay.ForConsole();
var observer = new RunObserver
{
    Info = display.Line,
    Warning = w => display.Line("warning: " + w),
    Step = display.Step,
    Epoch = display.Epoch,
};
try
{
    switch (command)
    {
        case "info":
            foreach (var (name, value) in Runtime.Describe()) Console.WriteLine($"{name,-12} {value}");
            return 0;
        case "summary" when rest.Contains("--help"):
            Console.WriteLine(Flags.Help<SummaryArgs>("summary", "Parameters per part and FLOPs per image of a preset, counted analytically (no model is built)."));
            return 0;
        case "summary":
        {
            var a = Flags.Parse<SummaryArgs>(rest);
            Console.WriteLine($"{a.Model}:");
            Console.WriteLine(a.Summarize().ToTable());
            return 0;
        }
        case "pretrain" when rest.Contains("--help"):
            Console.WriteLine(Flags.Help<PretrainArgs>("pretrain", "Masked-autoencoder pretraining (official main_pretrain.py)."));
            return 0;
        case "pretrain":
            return Report(Recipes.Pretrain(Flags.Parse<PretrainArgs>(rest), observer));
        case "finetune" when rest.Contains("--help"):
            Console.WriteLine(Flags.Help<FinetuneArgs>("finetune", "End-to-end finetuning of a classifier (official main_finetune.py)."));
            return 0;
        case "finetune":
        {
            var a = Flags.Parse<FinetuneArgs>(rest);
            return a.Eval ? ReportEval(Recipes.Evaluate(a, Required(a.Resume, "--eval needs --resume CHECKPOINT"), linearProbe: false))
                          : Report(Recipes.Finetune(a, observer));
        }
        case "linprobe" when rest.Contains("--help"):
            Console.WriteLine(Flags.Help<LinprobeArgs>("linprobe", "Linear probing of a frozen encoder (official main_linprobe.py)."));
            return 0;
        case "linprobe":
        {
            var a = Flags.Parse<LinprobeArgs>(rest);
            return a.Eval ? ReportEval(Recipes.Evaluate(a, Required(a.Resume, "--eval needs --resume CHECKPOINT"), linearProbe: true))
                          : Report(Recipes.Linprobe(a, observer));
        }
        case "eval" when rest.Contains("--help"):
            Console.WriteLine(Flags.Help<FinetuneArgs>("eval", "Top-1/top-5 of a finetuned classifier checkpoint on val/ (same as finetune --eval; add --linprobe for a linear-probe checkpoint)."));
            return 0;
        case "eval":
        {
            bool probe = rest.Remove("--linprobe");
            var a = Flags.Parse<FinetuneArgs>(rest);
            return ReportEval(Recipes.Evaluate(a, Required(a.Resume, "eval needs --resume CHECKPOINT"), probe));
        }
        default:
            Console.WriteLine("""
                usage: convmae <command> [flags]      (convmae <command> --help lists the flags)
                  pretrain   masked-autoencoder pretraining             (main_pretrain.py)
                  finetune   finetune a classifier from a checkpoint    (main_finetune.py)
                  linprobe   linear probe of a frozen encoder           (main_linprobe.py)
                  eval       top-1/top-5 of a classifier checkpoint     (main_finetune.py --eval)
                  summary    parameters per part and FLOPs per image of a preset
                  info       versions, device, threads
                """);
            return command is "help" or "--help" ? 0 : 2;
    }
}
catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or CheckpointException
                              or NonFiniteLossException or InvalidOperationException or UnauthorizedAccessException)
{
    display.Line($"convmae {command}: {e.Message}");
    return 1;
}
catch (Exception e)
{
    // Anything else is a bug in the kit: say so, with the details needed to report it.
    display.Line($"convmae {command}: unexpected {e.GetType().Name}: {e.Message}");
    Console.Error.WriteLine(e);
    return 70;
}

int Report(RunResult r)
{
    display.Line($"{r.Kind} finished in {r.Elapsed:hh\\:mm\\:ss}: checkpoint {r.Checkpoint ?? "(none)"}, metrics {r.MetricsPath}");
    if (r.Last is { } last)
        display.Line($"final train loss {last.TrainLoss:F4}" + string.Concat(last.Eval.Select(kv => $", val {kv.Key} {kv.Value:F2}")));
    return 0;
}

int ReportEval(ConvMAE.Evaluation.EvalResult r)
{
    Console.WriteLine($"Accuracy of the network on the {r.Count} test images: acc1 {r.Acc1:F2}% acc5 {r.Acc5:F2}% loss {r.Loss:F4}");
    return 0;
}

static string Required(string value, string message) => string.IsNullOrEmpty(value) ? throw new ArgumentException(message) : value;
