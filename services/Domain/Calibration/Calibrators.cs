using System.Text.Json.Serialization;

namespace Router.Domain.Calibration;

/// <summary>
/// Maps a model's raw confidence (a probability-like score in [0, 1], e.g. exp(mean log-prob))
/// to its probability of being correct. Serialised as JSON with a "kind" discriminator so
/// versions stored in PostgreSQL load back into the same function.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(IdentityCalibrator), "identity")]
[JsonDerivedType(typeof(PlattCalibrator), "platt")]
[JsonDerivedType(typeof(IsotonicCalibrator), "isotonic")]
[JsonDerivedType(typeof(HistogramBinningCalibrator), "histogram")]
public abstract record Calibrator
{
    /// <summary>Probabilities are kept inside [Epsilon, 1 - Epsilon] so logits stay finite.</summary>
    public const double Epsilon = 1e-6;

    public abstract double Calibrate(double score);

    /// <summary>NaN (an undefined signal) counts as the least confident score.</summary>
    protected static double Clean(double score) => double.IsNaN(score) ? 0 : Math.Clamp(score, 0, 1);

    public static double Logit(double p)
    {
        var q = Math.Clamp(p, Epsilon, 1 - Epsilon);
        return Math.Log(q / (1 - q));
    }

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}

/// <summary>The raw score as it is: the baseline every fitted calibrator must beat.</summary>
public sealed record IdentityCalibrator : Calibrator
{
    public override double Calibrate(double score) => Clean(score);
}

/// <summary>Platt scaling on the logit of the score: p = sigmoid(A * logit(score) + B).</summary>
public sealed record PlattCalibrator(double A, double B) : Calibrator
{
    public override double Calibrate(double score) => Sigmoid(A * Logit(Clean(score)) + B);
}

/// <summary>
/// A monotone step function between knots (score, probability), linearly interpolated, constant
/// outside: isotonic regression with smoothed, minimum-size blocks.
/// </summary>
public sealed record IsotonicCalibrator(double[] Scores, double[] Probabilities) : Calibrator
{
    public override double Calibrate(double score) => Interpolate(Scores, Probabilities, Clean(score));

    internal static double Interpolate(double[] xs, double[] ys, double x)
    {
        if (x <= xs[0])
        {
            return ys[0];
        }

        if (x >= xs[^1])
        {
            return ys[^1];
        }

        var i = Array.BinarySearch(xs, x);
        if (i >= 0)
        {
            return ys[i];
        }

        i = ~i;
        var t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
        return ys[i - 1] + t * (ys[i] - ys[i - 1]);
    }
}

/// <summary>Equal-mass histogram binning: the smoothed accuracy of the bin a score falls in.</summary>
public sealed record HistogramBinningCalibrator(double[] UpperEdges, double[] Probabilities) : Calibrator
{
    public override double Calibrate(double score)
    {
        var x = Clean(score);
        for (var i = 0; i < UpperEdges.Length; i++)
        {
            if (x <= UpperEdges[i])
            {
                return Probabilities[i];
            }
        }

        return Probabilities[^1];
    }
}
