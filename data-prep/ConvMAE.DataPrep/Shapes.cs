namespace ConvMAE.DataPrep;

/// <summary>
/// The ten shape classes of the demo dataset, as signed distance functions in a unit frame (negative inside,
/// the shape fits in a radius-1 disc). Distances are exact or close enough for 1-pixel anti-aliasing.
/// </summary>
public static class Shapes
{
    /// <summary>Class names; their sorted order is the label order, as in an ImageNet class-folder layout.</summary>
    public static readonly string[] Names =
        ["circle", "crescent", "cross", "diamond", "flower", "hexagon", "ring", "square", "star", "triangle"];

    public static double Distance(string shape, double x, double y) => shape switch
    {
        "circle" => Math.Sqrt(x * x + y * y) - 0.9,
        "crescent" => Math.Max(Math.Sqrt(x * x + y * y) - 0.9, -(Math.Sqrt((x - 0.45) * (x - 0.45) + y * y) - 0.7)),
        "cross" => Math.Min(Box(x, y, 0.9, 0.28), Box(x, y, 0.28, 0.9)),
        // Elongated (aspect 2:1): a square diamond would be a rotated "square", and rotation is random.
        "diamond" => (Math.Abs(x) + 2 * Math.Abs(y) - 0.95) / Math.Sqrt(5),
        "flower" => Polar(x, y, t => 0.62 + 0.28 * Math.Cos(6 * t)),
        "hexagon" => Hexagon(x, y, 0.85),
        "ring" => Math.Abs(Math.Sqrt(x * x + y * y) - 0.7) - 0.2,
        "square" => Box(x, y, 0.72, 0.72),
        "star" => Polar(x, y, t => 0.5 + 0.45 * Math.Pow(Math.Abs(Math.Cos(2.5 * t)), 3)),
        "triangle" => Triangle(x, y, 0.95),
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "unknown shape"),
    };

    static double Box(double x, double y, double hx, double hy)
    {
        double dx = Math.Abs(x) - hx, dy = Math.Abs(y) - hy;
        return Math.Sqrt(Math.Max(dx, 0) * Math.Max(dx, 0) + Math.Max(dy, 0) * Math.Max(dy, 0)) + Math.Min(Math.Max(dx, dy), 0);
    }

    /// <summary>A star-shaped region r ≤ R(θ); the radial difference approximates the distance.</summary>
    static double Polar(double x, double y, Func<double, double> radius) =>
        (Math.Sqrt(x * x + y * y) - radius(Math.Atan2(y, x))) * 0.8;

    static double Hexagon(double x, double y, double r)
    {
        x = Math.Abs(x); y = Math.Abs(y);
        return Math.Max(x * 0.866025 + y * 0.5, y) - r * 0.866025;
    }

    static double Triangle(double x, double y, double r)
    {
        // Equilateral triangle pointing up, circumradius r: max of the three edge half-plane distances.
        double k = Math.Sqrt(3);
        double e1 = -y - r * 0.5;
        double e2 = (k * x + y) / 2 - r * 0.5;
        double e3 = (-k * x + y) / 2 - r * 0.5;
        return Math.Max(e1, Math.Max(e2, e3));
    }
}
