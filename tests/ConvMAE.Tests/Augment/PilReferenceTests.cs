using System.Text.Json;
using ConvMAE.Data;
using Xunit;

namespace ConvMAE.Tests.Augment;

/// <summary>
/// The RandAugment ops against what Pillow itself produced (pil_reference.json, written by
/// make_pil_reference.py with Pillow 9.4): every byte must match. CONVMAE_PIL_REFERENCE may point at a larger
/// file made with --big for a manual run.
/// </summary>
public class PilReferenceTests
{
    static string FixturePath =>
        Environment.GetEnvironmentVariable("CONVMAE_PIL_REFERENCE") is { Length: > 0 } p
            ? p : Path.Combine(TestPaths.RepoRoot, "tests", "ConvMAE.Tests", "Augment", "pil_reference.json");

    [Fact]
    public void Every_op_matches_Pillow_byte_for_byte()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePath));
        var root = doc.RootElement;
        var fill = root.GetProperty("fill").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        var inputs = root.GetProperty("inputs").EnumerateArray()
            .Select(e => new Rgb8Image(e.GetProperty("width").GetInt32(), e.GetProperty("height").GetInt32(),
                Convert.FromBase64String(e.GetProperty("rgb").GetString()!)))
            .ToArray();
        var failures = new List<string>();
        int n = 0;
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            n++;
            var kind = Enum.Parse<AugmentOpKind>(c.GetProperty("op").GetString()!);
            var argEl = c.GetProperty("arg");
            double arg = argEl.ValueKind == JsonValueKind.Null ? double.NaN : argEl.GetDouble();
            var resEl = c.GetProperty("resample");
            PilResample? res = resEl.ValueKind == JsonValueKind.Null ? null
                : resEl.GetString() == "bicubic" ? PilResample.Bicubic : PilResample.Bilinear;
            var img = inputs[c.GetProperty("input").GetInt32()];
            var expected = Convert.FromBase64String(c.GetProperty("expected").GetString()!);

            var op = new AugmentOp(kind, 10, hparams: new AugmentHParams { Fill = fill, Interpolation = res });
            var actual = op.ApplyWithArg(img, arg, new Random(0)).Data;

            int bad = 0, maxDiff = 0, first = -1;
            for (int i = 0; i < expected.Length; i++)
            {
                int d = Math.Abs(expected[i] - actual[i]);
                if (d != 0) { bad++; maxDiff = Math.Max(maxDiff, d); if (first < 0) first = i; }
            }
            if (bad > 0)
                failures.Add($"{kind}({arg}, {res}) on input {c.GetProperty("input").GetInt32()} ({img.Width}x{img.Height}): " +
                             $"{bad} bytes differ, max {maxDiff}, first at byte {first} (pixel {first / 3 % img.Width},{first / 3 / img.Width} ch {first % 3}): " +
                             $"Pillow {expected[first]}, ours {actual[first]}");
        }
        Assert.True(n > 100, $"only {n} reference cases read");
        Assert.True(failures.Count == 0, $"{failures.Count} of {n} cases differ from Pillow:\n" + string.Join("\n", failures.Take(40)));
    }
}
