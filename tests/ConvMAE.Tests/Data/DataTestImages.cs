using ConvMAE.DataPrep;
using SixLabors.ImageSharp;

namespace ConvMAE.Tests.Data;

/// <summary>Small ImageNet-layout folders for data tests, written into a temp folder.</summary>
public static class DataTestImages
{
    /// <summary>classes × perClass JPEG files of demo shapes, size×size.</summary>
    public static string MakeFolder(string root, int classes = 3, int perClass = 5, int size = 40)
    {
        var rng = new Random(5);
        for (int c = 0; c < classes; c++)
        {
            var dir = Path.Combine(root, $"class{c}");
            Directory.CreateDirectory(dir);
            for (int i = 0; i < perClass; i++)
            {
                using var img = DemoDataset.Render(Shapes.Names[c], size, rng, noiseStd: 20);
                img.SaveAsJpeg(Path.Combine(dir, $"img{i}.JPEG"));
            }
        }
        return root;
    }
}
