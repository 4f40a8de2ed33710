using ConvMAE;
using ConvMAE.TestHost;

// Test host: `toy-train --output_dir DIR [--resume CKPT] [--max_iter N] [--checkpoint_period K] [--step_delay_ms MS]
//             [--batch_size B] [--bad_samples i,j,...|all]`.
NativeTorch.EnsureLoaded();
if (args.Length == 0 || args[0] != "toy-train")
{
    Console.Error.WriteLine("usage: ConvMAE.TestHost toy-train --output_dir DIR [--resume CKPT] [--max_iter N] [--checkpoint_period K] [--step_delay_ms MS]");
    return 2;
}
string Arg(string name, string dflt)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : dflt;
}
var result = ToyTraining.Run(new ToyArgs
{
    OutputDir = Arg("--output_dir", "toy-run"), LogDir = Arg("--output_dir", "toy-run"), Resume = Arg("--resume", ""),
    MaxIter = long.Parse(Arg("--max_iter", "40")), CheckpointPeriod = int.Parse(Arg("--checkpoint_period", "4")),
    Seed = int.Parse(Arg("--seed", "3")), Threads = 1,
}, int.Parse(Arg("--step_delay_ms", "0")), int.Parse(Arg("--batch_size", "8")),
   Arg("--bad_samples", "") switch
   {
       "" => null,
       "all" => Enumerable.Range(0, new ToySource().Count).ToHashSet(),
       var list => list.Split(',').Select(int.Parse).ToHashSet(),
   });
Console.WriteLine($"toy run finished at iteration {result.Iteration}: checkpoint {result.Checkpoint}");
return 0;
