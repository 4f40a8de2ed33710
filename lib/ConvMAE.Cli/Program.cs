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
    HeapReuse.RestartIfUseful(args);   // before any work: glibc reads its malloc settings only at process start
    NativeTorch.EnsureLoaded();   // the package's own libtorch, by full path, before anything touches TorchSharp
    switch (command)
    {
        case "info":
            foreach (var (name, value) in Runtime.Describe()) Console.WriteLine($"{name,-14} {value}");
            if (rest.Contains("--native"))
            {
                // One tensor computed, then every libtorch/c10/wrapper file this process has mapped (set-up and tests read this).
                Console.WriteLine($"{"computes",-14} {Runtime.SelfCheck()}");
                foreach (var lib in Runtime.MappedTorchLibraries()) Console.WriteLine($"{"mapped",-14} {lib}");
            }
            return 0;
        case "summary":
            return Command<SummaryArgs>("Parameters per part and FLOPs per image of a preset, counted analytically (no model is built).", a =>
            {
                Console.WriteLine($"{a.Model}:");
                Console.WriteLine(a.Summarize().ToTable());
                return 0;
            });
        case "quickstart":
            return Command<QuickstartArgs>("Pretrain, linear-probe (against a random encoder) and finetune the tiny preset on the demo data.",
                                           q => ReportQuickstart(q, Quickstart.Run(q, observer)));
        case "pretrain":
            return Command<PretrainArgs>("Masked-autoencoder pretraining (official main_pretrain.py).", a => Report(ImageRecipes.Pretrain(a, observer)));
        case "finetune":
            return Command<FinetuneArgs>("End-to-end finetuning of a classifier (official main_finetune.py).", a =>
                a.Eval ? ReportEval(ImageRecipes.Evaluate(a, Required(a.Resume, "--eval needs --resume CHECKPOINT"), linearProbe: false))
                       : Report(ImageRecipes.Finetune(a, observer)));
        case "linprobe":
            return Command<LinprobeArgs>("Linear probing of a frozen encoder (official main_linprobe.py).", a =>
                a.Eval ? ReportEval(ImageRecipes.Evaluate(a, Required(a.Resume, "--eval needs --resume CHECKPOINT"), linearProbe: true))
                       : Report(ImageRecipes.Linprobe(a, observer)));
        case "eval":
        {
            bool probe = rest.Remove("--linprobe");
            return Command<FinetuneArgs>("Top-1/top-5 of a finetuned classifier checkpoint on val/ (same as finetune --eval; add --linprobe " +
                                         "for a linear-probe checkpoint).",
                                         a => ReportEval(ImageRecipes.Evaluate(a, Required(a.Resume, "eval needs --resume CHECKPOINT"), probe)));
        }
        case "segment":
        {
            var mode = TakeMode();
            return Command<SegmentArgs>("ADE20K semantic segmentation with UperNet: segment train|eval|predict [flags] " +
                                        "(eval/predict read --resume CHECKPOINT; predict writes --out_dir).", a => mode switch
            {
                "train" => Report(SegmentationRecipes.Train(a, observer)),
                "eval" => ReportSeg(SegmentationRecipes.Evaluate(a, Required(a.Resume, "segment eval needs --resume CHECKPOINT"), observer.Warning)),
                "predict" => ReportSeg(SegmentationRecipes.Predict(a, Required(a.Resume, "segment predict needs --resume CHECKPOINT"), observer.Warning)),
                _ => throw new ArgumentException("segment needs a mode: train, eval or predict"),
            });
        }
        case "detect":
        {
            var mode = TakeMode();
            return Command<DetectArgs>("COCO detection and instance segmentation with Mask R-CNN: detect train|eval|predict [flags] " +
                                       "(eval/predict read --resume CHECKPOINT; predict writes the results JSON).", a => mode switch
            {
                "train" => Report(DetectionRecipes.Train(a, observer)),
                "eval" => ReportDet(DetectionRecipes.Evaluate(a, Required(a.Resume, "detect eval needs --resume CHECKPOINT"), observer.Warning)),
                "predict" => ReportPredict(DetectionRecipes.Predict(a, Required(a.Resume, "detect predict needs --resume CHECKPOINT"), observer.Warning)),
                _ => throw new ArgumentException("detect needs a mode: train, eval or predict"),
            });
        }
        case "video":
        {
            var mode = TakeMode();
            const string about = "Kinetics-400 / SSv2 video with VideoConvMAE (VideoMAE's flags): video pretrain|finetune|eval|extract-frames [flags]";
            return mode switch
            {
                "pretrain" => Command<VideoPretrainArgs>(about + "; pretrain: masked-video pretraining with tube masking.",
                                                         a => Report(VideoRecipes.Pretrain(a, observer))),
                "finetune" => Command<VideoFinetuneArgs>(about + "; finetune: video classification (--eval: the multi-view test of --resume).", a =>
                    a.Eval ? ReportVideo(VideoRecipes.Evaluate(a, Required(a.Resume, "video finetune --eval needs --resume CHECKPOINT"), observer))
                           : Report(VideoRecipes.Finetune(a, observer))),
                "eval" => Command<VideoFinetuneArgs>(about + "; eval: the multi-view test (--test_num_segment × --test_num_crop views, scores averaged).",
                    a => ReportVideo(VideoRecipes.Evaluate(a, Required(a.Resume, "video eval needs --resume CHECKPOINT"), observer))),
                "extract-frames" => Command<VideoPretrainArgs>(about + "; extract-frames: decode every video of --data_path once into JPEG frames " +
                    "beside it, which the loaders then read instead of the video.", a =>
                    {
                        display.Line(VideoData.ExtractFrames(a, observer));
                        return 0;
                    }),
                _ => throw new ArgumentException("video needs a mode: pretrain, finetune, eval or extract-frames"),
            };
        }
        case "eval-seg":
            return Command<EvalSegArgs>("mmsegmentation's mIoU/mAcc/aAcc of prediction PNGs against ground-truth PNGs; one JSON line.", a =>
            {
                Console.WriteLine(a.Run());
                return 0;
            });
        case "eval-coco":
            return Command<EvalCocoArgs>("COCO box or mask AP/AR exactly as pycocotools' COCOeval; one JSON line {\"stats\": [12 numbers]} " +
                                         "in COCOeval's order (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl).", a =>
            {
                Console.WriteLine(a.Run());
                return 0;
            });
        case "bench":
        {
            var mode = TakeMode();
            return Command<ConvMAE.Benchmarks.BenchArgs>(
                "Time the kit's steps: bench pretrain|finetune|infer|data|segment|detect|video [flags]; prints one JSON line (progress on stderr).", a =>
                {
                    if (mode.Length == 0) throw new ArgumentException("bench needs a mode: pretrain, finetune, infer, data, segment, detect or video");
                    var r = ConvMAE.Benchmarks.Benchmark.Run(a with { Mode = mode }, line => Console.Error.WriteLine(line));
                    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(r, new System.Text.Json.JsonSerializerOptions
                    {
                        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
                        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
                    }));
                    return 0;
                });
        }
        default:
            Console.WriteLine("""
                usage: convmae <command> [flags]      (convmae <command> --help lists the flags)
                  quickstart pretrain + linear probes + finetune of the tiny preset on the demo data
                  pretrain   masked-autoencoder pretraining             (main_pretrain.py)
                  finetune   finetune a classifier from a checkpoint    (main_finetune.py)
                  linprobe   linear probe of a frozen encoder           (main_linprobe.py)
                  eval       top-1/top-5 of a classifier checkpoint     (main_finetune.py --eval)
                  segment    ADE20K segmentation with UperNet: segment train|eval|predict
                  detect     COCO detection + instance segmentation with Mask R-CNN: detect train|eval|predict
                  video      Kinetics-400 / SSv2 with VideoConvMAE: video pretrain|finetune|eval|extract-frames
                  eval-seg   mIoU/mAcc/aAcc of prediction PNGs, as mmsegmentation computes them (one JSON line)
                  eval-coco  COCO box/mask AP of a results file, as pycocotools' COCOeval computes it (one JSON line)
                  summary    parameters per part and FLOPs per image of a preset
                  bench      time pretrain/finetune/infer steps or the data loader (one JSON line)
                  info       versions, device, threads, where libtorch was loaded from (--native: and every mapped copy)
                """);
            return command is "help" or "--help" ? 0 : 2;
    }
}
catch (Exception e) when (e is ArgumentException and not ArgumentOutOfRangeException or IOException or InvalidDataException or CheckpointException or ConvMAE.Data.Coco.CocoFormatException or ConvMAE.Data.Video.VideoDataException
                              or NonFiniteLossException or InvalidOperationException or NotSupportedException or UnauthorizedAccessException)
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

// One command: --help prints its flags; otherwise the flags are parsed onto its args record and the body runs.
int Command<T>(string summary, Func<T, int> body) where T : new()
{
    if (rest.Contains("--help"))
    {
        Console.WriteLine(Flags.Help<T>(command, summary));
        return 0;
    }
    return body(Flags.Parse<T>(rest));
}

int ReportQuickstart(QuickstartArgs q, QuickstartResult r)
{
    display.Line($"""

        quickstart finished in {r.Elapsed:hh\:mm\:ss} ({Quickstart.Model}, {Quickstart.InputSize} px, data {q.DataPath})
          pretraining loss                   {r.PretrainLossFirstEpoch:F3} (first epoch) -> {r.PretrainLossLastEpoch:F3} (last epoch)
          linear probe, pretrained encoder   top-1 {r.ProbePretrained:F1} %   (best of blr {Quickstart.ProbeBlrSweep}: {r.ProbePretrainedBlr:G})
          linear probe, random encoder       top-1 {r.ProbeRandom:F1} %   (best blr {r.ProbeRandomBlr:G}; gain from pretraining: {r.ProbeGain:+0.0;-0.0} points)
          finetuned                          top-1 {r.Finetuned:F1} %   (chance: 10 %)
        checkpoints, metrics.jsonl and TensorBoard logs: {Path.GetFullPath(q.OutputDir)}/<stage>/
        summary: {Path.Combine(Path.GetFullPath(q.OutputDir), "summary.json")}
        """);
    return 0;
}

// The word after a command with modes (segment train, detect eval, bench pretrain): removed from the flags; "" if absent.
string TakeMode()
{
    if (rest.Count == 0 || rest[0].StartsWith('-')) return "";
    var mode = rest[0];
    rest.RemoveAt(0);
    return mode;
}

int Report(RunResult r)
{
    display.Line($"{r.Kind} finished in {r.Elapsed:hh\\:mm\\:ss}: checkpoint {r.Checkpoint ?? "(none)"}, metrics {r.MetricsPath}");
    if (r.Last is { } last)
        display.Line($"final train loss {last.TrainLoss:F4}" + string.Concat(last.Eval.Select(kv => $", val {kv.Key} {kv.Value:F2}")));
    return 0;
}

int ReportDet(ConvMAE.Detection.DetResult r)
{
    // One JSON line with both sets of 12 numbers, then detectron2's AP tables on stderr for people.
    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { bbox = r.Bbox, segm = r.Segm, images = r.Images, detections = r.Detections.Count },
        new System.Text.Json.JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
    foreach (var (name, stats) in new[] { ("bbox", r.Bbox), ("segm", r.Segm) })
        Console.Error.WriteLine($"{name}: " + string.Join("  ", ConvMAE.Evaluation.CocoEvaluator.StatNames.Take(6)
            .Select((n, i) => $"{n} {(stats[i] < 0 ? "nan" : (100 * stats[i]).ToString("F2"))}")));
    return 0;
}

int ReportPredict((ConvMAE.Detection.DetResult Result, string Path) p)
{
    Console.Error.WriteLine($"{p.Result.Detections.Count} detections on {p.Result.Images} images written to {p.Path}");
    return ReportDet(p.Result);
}

int ReportSeg(ConvMAE.Evaluation.SegResult r)
{
    // The JSON line eval-seg prints, then mmseg's per-class table on stderr for people.
    Console.WriteLine(EvalSegArgs.Json(r));
    Console.Error.WriteLine($"{"class",-6} {"IoU",8} {"Acc",8}");
    for (int k = 0; k < r.IoU.Length; k++) Console.Error.WriteLine($"{k,-6} {100 * r.IoU[k],8:F2} {100 * r.Acc[k],8:F2}");
    Console.Error.WriteLine($"aAcc {100 * r.AAcc:F2}  mIoU {100 * r.MIoU:F2}  mAcc {100 * r.MAcc:F2}");
    return 0;
}

int ReportVideo(ConvMAE.Video.VideoEvalResult r)
{
    // VideoMAE's final line, then the per-class accuracy on stderr for people.
    Console.WriteLine($"Accuracy of the network on the {r.Videos} test videos ({r.Views} views each): top-1 {r.Acc1:F2}% top-5 {r.Acc5:F2}% loss {r.Loss:F4}");
    var perClass = r.PerClassAccuracy();
    for (int k = 0; k < perClass.Length; k++) Console.Error.WriteLine($"{perClass[k],7:F1} %  {r.Classes[k]}");
    return 0;
}

int ReportEval(ConvMAE.Evaluation.EvalResult r)
{
    Console.WriteLine($"Accuracy of the network on the {r.Count} test images: acc1 {r.Acc1:F2}% acc5 {r.Acc5:F2}% loss {r.Loss:F4}");
    return 0;
}

static string Required(string value, string message) => string.IsNullOrEmpty(value) ? throw new ArgumentException(message) : value;
