namespace ConvMAE.Data;

/// <summary>
/// The few distributions the augmentations draw from, all on a caller-supplied <see cref="Random"/> so a data
/// pipeline is reproducible from its seeds (timm uses Python's and NumPy's global generators instead; the
/// streams differ, the distributions are the same). Each helper is named after the Python call it stands for.
/// </summary>
public static class RandomDraws
{
    /// <summary>Python <c>random.uniform(a, b)</c>: <c>a + (b - a) * random()</c>.</summary>
    public static double Uniform(this Random rng, double a, double b) => a + (b - a) * rng.NextDouble();

    /// <summary>Python <c>random.randint(a, b)</c>: both ends inclusive.</summary>
    public static int RandIntInclusive(this Random rng, int a, int b) => rng.Next(a, b + 1);

    /// <summary>NumPy <c>np.random.randint(low, high)</c>: high exclusive; like NumPy, an empty range throws.</summary>
    public static int RandIntExclusive(this Random rng, int low, int high)
    {
        if (high <= low) throw new ArgumentOutOfRangeException(nameof(high), $"randint needs low < high, got [{low}, {high})");
        return rng.Next(low, high);
    }

    /// <summary>Standard normal by Box–Muller (no cached second value, so each call consumes two uniforms
    /// and a sequence of calls does not depend on earlier ones).</summary>
    public static double Gaussian(this Random rng, double mean = 0, double std = 1)
    {
        double u1 = 1.0 - rng.NextDouble(); // (0, 1], keeps the log finite
        double u2 = rng.NextDouble();
        return mean + std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Gamma(shape, 1) by Marsaglia–Tsang; shapes below 1 use the <c>U^(1/shape)</c> boost.</summary>
    public static double Gamma(this Random rng, double shape)
    {
        if (!(shape > 0)) throw new ArgumentOutOfRangeException(nameof(shape), "gamma shape must be > 0");
        if (shape < 1)
        {
            double u = 1.0 - rng.NextDouble();
            return rng.Gamma(shape + 1) * Math.Pow(u, 1.0 / shape);
        }
        double d = shape - 1.0 / 3.0, c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x, v;
            do { x = rng.Gaussian(); v = 1.0 + c * x; } while (v <= 0);
            v = v * v * v;
            double u = 1.0 - rng.NextDouble();
            if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1.0 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>NumPy <c>np.random.beta(a, b)</c> as <c>X / (X + Y)</c> with X ~ Gamma(a), Y ~ Gamma(b).</summary>
    public static double Beta(this Random rng, double a, double b)
    {
        double x = rng.Gamma(a), y = rng.Gamma(b);
        double s = x + y;
        // Both gammas can underflow to 0 for tiny shapes; NumPy then falls back to a Bernoulli-like draw.
        return s > 0 ? x / s : (rng.NextDouble() < a / (a + b) ? 1.0 : 0.0);
    }
}
