namespace Router.Domain.Policies;

/// <summary>
/// Exact (Clopper-Pearson) binomial confidence bounds: with k events in n trials, the true rate
/// lies below <see cref="Upper"/> (above <see cref="Lower"/>) with probability at least 1 - alpha,
/// whatever the rate. The finite-sample guarantee the policies are fitted with.
/// </summary>
public static class ClopperPearson
{
    /// <summary>
    /// Up to this many events the bounds solve the binomial tail summed term by term, which costs
    /// O(events) per step instead of a continued fraction that converges slowly for rare events
    /// among many trials (the case of every risk bound: a few losses in hundreds of queries).
    /// </summary>
    private const int DirectSumLimit = 200;

    public static double Upper(int events, int trials, double alpha)
    {
        Check(events, trials, alpha);
        return events >= trials ? 1
            : events <= DirectSumLimit ? Bisect(Cdf(events, trials), alpha)
            : InverseRegularizedBeta(1 - alpha, events + 1, trials - events);
    }

    public static double Lower(int events, int trials, double alpha)
    {
        Check(events, trials, alpha);
        return events <= 0 ? 0
            : events - 1 <= DirectSumLimit ? Bisect(Cdf(events - 1, trials), 1 - alpha)
            : InverseRegularizedBeta(alpha, events, trials - events + 1);
    }

    /// <summary>P(Binomial(n, p) &lt;= k).</summary>
    public static double BinomialCdf(int k, int n, double p) => Cdf(k, n)(p);

    /// <summary>
    /// p -> P(Binomial(n, p) &lt;= k): the k-th term in log space, then the lower terms by their
    /// ratio to it, so each call costs O(k) multiplications and nothing underflows; the binomial
    /// coefficient is computed once for the many calls of a bisection.
    /// </summary>
    private static Func<double, double> Cdf(int k, int n)
    {
        var logChoose = LogGamma(n + 1) - LogGamma(k + 1) - LogGamma(n - k + 1);
        return p =>
        {
            if (p <= 0 || k >= n)
            {
                return 1;
            }

            if (p >= 1)
            {
                return 0;
            }

            var inverseOdds = (1 - p) / p;
            double term = 1, sum = 1;
            for (var j = k; j > 0; j--)
            {
                term *= j / (double)(n - j + 1) * inverseOdds;
                sum += term;
            }

            return Math.Min(1, Math.Exp(logChoose + k * Math.Log(p) + (n - k) * Math.Log(1 - p) + Math.Log(sum)));
        };
    }

    /// <summary>I_x(a, b), the regularised incomplete beta function (continued fraction, Lentz's method).</summary>
    public static double RegularizedBeta(double x, double a, double b)
    {
        if (x <= 0)
        {
            return 0;
        }

        if (x >= 1)
        {
            return 1;
        }

        var front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2)
            ? front * ContinuedFraction(x, a, b) / a
            : 1 - front * ContinuedFraction(1 - x, b, a) / b;
    }

    /// <summary>The x where I_x(a, b) = p: the tail P(Binomial(a + b - 1, x) &lt;= a - 1) = 1 - p, decreasing in x.</summary>
    private static double InverseRegularizedBeta(double p, double a, double b) => Bisect(x => 1 - RegularizedBeta(x, a, b), 1 - p);

    /// <summary>The x of [0, 1] where the decreasing <paramref name="tail"/> crosses <paramref name="level"/>, to about 1e-16.</summary>
    private static double Bisect(Func<double, double> tail, double level)
    {
        double low = 0, high = 1;
        for (var i = 0; i < 54; i++)
        {
            var mid = (low + high) / 2;
            if (tail(mid) > level)
            {
                low = mid;
            }
            else
            {
                high = mid;
            }
        }

        return (low + high) / 2;
    }

    private static double ContinuedFraction(double x, double a, double b)
    {
        const double Tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        d = Math.Abs(d) < Tiny ? Tiny : d;
        d = 1 / d;
        var h = d;
        for (var m = 1; m <= 300; m++)
        {
            var m2 = 2 * m;
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
            d = 1 + aa * d;
            d = Math.Abs(d) < Tiny ? Tiny : d;
            c = 1 + aa / c;
            c = Math.Abs(c) < Tiny ? Tiny : c;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
            d = 1 + aa * d;
            d = Math.Abs(d) < Tiny ? Tiny : d;
            c = 1 + aa / c;
            c = Math.Abs(c) < Tiny ? Tiny : c;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-14)
            {
                break;
            }
        }

        return h;
    }

    /// <summary>Lanczos approximation of ln Gamma(x), x &gt; 0.</summary>
    private static double LogGamma(double x)
    {
        double[] g = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
        if (x < 0.5)
        {
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        x -= 1;
        var sum = 0.99999999999980993;
        for (var i = 0; i < g.Length; i++)
        {
            sum += g[i] / (x + i + 1);
        }

        var t = x + g.Length - 0.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }

    private static void Check(int events, int trials, double alpha)
    {
        if (trials <= 0 || events < 0 || events > trials)
        {
            throw new ArgumentOutOfRangeException(nameof(events), $"need 0 <= events <= trials and trials > 0; got {events} of {trials}.");
        }

        if (alpha is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), $"must be in (0, 1); got {alpha}.");
        }
    }
}
