using ConvMAE.DataPrep;

// data-prep: dataset generators and converters. Run with no arguments for usage.
var a = args.ToList();
string? Opt(string name, string? dflt = null)
{
    int i = a.IndexOf(name);
    if (i < 0) return dflt;
    if (i + 1 >= a.Count) throw new ArgumentException($"{name} needs a value");
    var v = a[i + 1];
    a.RemoveRange(i, 2);
    return v;
}
bool Flag(string name) => a.Remove(name);
int Int(string name, int dflt) => int.TryParse(Opt(name, dflt.ToString()), out var v) ? v : throw new ArgumentException($"{name} takes a whole number");

try
{
    switch (a.FirstOrDefault())
    {
        case "generate-demo":
        {
            a.RemoveAt(0);
            var o = new DemoDatasetOptions(Int("--seed", 0), Int("--train-per-class", 260), Int("--val-per-class", 60), Int("--size", 96),
                                           Int("--noise", 60));
            var output = Opt("--output", "data/demo")!;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            bool wrote = DemoDataset.Generate(output, o, line => Console.WriteLine($"  {line}"));
            Console.WriteLine(wrote
                ? $"demo dataset written to {Path.GetFullPath(output)}: {Shapes.Names.Length} classes, {o.TrainPerClass}+{o.ValPerClass} images each, {o.Size}px, seed {o.Seed} ({sw.Elapsed.TotalSeconds:F1} s)"
                : $"demo dataset in {Path.GetFullPath(output)} is current (same seed and sizes): nothing to do");
            return 0;
        }
        case "generate-scenes":
        {
            a.RemoveAt(0);
            var o = new SceneDatasetOptions(Int("--seed", 0), Int("--train", 480), Int("--val", 120), Int("--width", 192), Int("--height", 144));
            var output = Opt("--output", "data/ade-demo")!;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            bool wrote = SceneDataset.Generate(output, o, line => Console.WriteLine($"  {line}"));
            Console.WriteLine(wrote
                ? $"scene dataset written to {Path.GetFullPath(output)}: {SceneDataset.Classes.Length} classes, {o.Train}+{o.Val} scenes of {o.Width}×{o.Height}, seed {o.Seed} ({sw.Elapsed.TotalSeconds:F1} s)"
                : $"scene dataset in {Path.GetFullPath(output)} is current (same seed and sizes): nothing to do");
            return 0;
        }
        case "generate-coco":
        {
            a.RemoveAt(0);
            var o = new CocoDemoOptions(Int("--seed", 0), Int("--train", 800), Int("--val", 100), Int("--min-side", 112), Int("--max-side", 160));
            var output = Opt("--output", "data/coco-demo")!;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            bool wrote = CocoDemoDataset.Generate(output, o, line => Console.WriteLine($"  {line}"));
            Console.WriteLine(wrote
                ? $"COCO-format dataset written to {Path.GetFullPath(output)}: {CocoDemoDataset.Categories.Length} categories, {o.Train}+{o.Val} images of {o.MinSide}-{o.MaxSide} px, seed {o.Seed} ({sw.Elapsed.TotalSeconds:F1} s)"
                : $"COCO-format dataset in {Path.GetFullPath(output)} is current (same seed and sizes): nothing to do");
            return 0;
        }
        case "generate-video":
        {
            a.RemoveAt(0);
            var o = new VideoDemoOptions(Int("--seed", 0), Int("--train-per-class", 40), Int("--val-per-class", 10), Int("--frames", 32),
                                         Int("--size", 80), Int("--fps", 25), VideoDemoOptions.ParseAppearance(Opt("--appearance", "random")!));
            var output = Opt("--output", "data/video-demo")!;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            bool wrote = VideoDemoDataset.Generate(output, o, line => Console.WriteLine($"  {line}"));
            Console.WriteLine(wrote
                ? $"video dataset written to {Path.GetFullPath(output)} (kinetics/ and ssv2/ layouts): {VideoDemoDataset.Classes.Length} motion classes over {o.AppearanceName} appearance, {o.TrainPerClass}+{o.ValPerClass} clips each, {o.Frames} frames of {o.Size}×{o.Size} at {o.Fps} fps, seed {o.Seed} ({sw.Elapsed.TotalSeconds:F1} s)"
                : $"video dataset in {Path.GetFullPath(output)} is current (same seed and sizes): nothing to do");
            return 0;
        }
        case "imagenet-subset":
        {
            a.RemoveAt(0);
            var src = Opt("--data_path") ?? throw new ArgumentException("--data_path (the ImageNet folder) is required");
            var output = Opt("--output") ?? throw new ArgumentException("--output is required");
            var o = new SubsetOptions(Int("--classes", 100), Int("--train-per-class", 260), Int("--val-per-class", 50), Int("--seed", 0), Flag("--copy"));
            var (c, t, v) = ImageNetSubset.Build(src, output, o);
            Console.WriteLine($"subset written to {Path.GetFullPath(output)}: {c} classes, {t} train and {v} val images ({(o.Copy ? "copies" : "links")})");
            return 0;
        }
        default:
            Console.WriteLine("""
                data-prep generate-demo [--output data/demo] [--seed 0] [--train-per-class 260] [--val-per-class 60] [--size 96] [--noise 60]
                    the embedded demo dataset (noisy grey shapes, 10 classes) in ImageNet layout; idempotent
                data-prep generate-scenes [--output data/ade-demo] [--seed 0] [--train 480] [--val 120] [--width 192] [--height 144]
                    the embedded segmentation dataset (textured outdoor scenes, 8 classes + 0 = other) in ADE20K layout; idempotent
                data-prep generate-coco [--output data/coco-demo] [--seed 0] [--train 800] [--val 100] [--min-side 112] [--max-side 160]
                    the embedded detection dataset (4 shape categories, polygons, RLE, crowds, occlusion) in COCO 2017 layout; idempotent
                data-prep generate-video [--output data/video-demo] [--seed 0] [--train-per-class 40] [--val-per-class 10] [--frames 32] [--size 80] [--fps 25]
                                         [--appearance random|fixed]
                    the embedded video dataset (8 motion classes over random appearance, or one red arrow on grey with
                    --appearance fixed) in Kinetics-400 (mp4) and SSv2 (webm) layouts; idempotent
                data-prep imagenet-subset --data_path IMAGENET --output DIR [--classes 100] [--train-per-class 260]
                                          [--val-per-class 50] [--seed 0] [--copy]
                    a class-balanced subset of a real ImageNet folder (symbolic links unless --copy)
                """);
            return a.Count == 0 ? 0 : 2;
    }
}
catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"data-prep: {e.Message}");
    return 1;
}
