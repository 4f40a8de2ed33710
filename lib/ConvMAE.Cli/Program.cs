using ConvMAE;

// The kit's command line. `info` prints versions, device and threads; training commands arrive with
// the pretraining/finetuning work (see README, Status).
var cmd = args.Length > 0 ? args[0] : "help";
switch (cmd)
{
    case "info":
        foreach (var (name, value) in Runtime.Describe()) Console.WriteLine($"{name,-12} {value}");
        return 0;
    default:
        Console.WriteLine("usage: convmae info");
        return cmd == "help" ? 0 : 2;
}
