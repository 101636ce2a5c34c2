namespace Router.Domain.Calibration;

/// <summary>
/// L2-regularised logistic regression fitted by Newton's method (IRLS): small dense problems
/// (a few features, hundreds to thousands of rows), where it converges in a handful of steps.
/// </summary>
public static class LogisticRegression
{
    /// <summary>Weights [intercept, w1..wd]; the L2 penalty pulls them towards <paramref name="priorWeights"/> (the intercept is not penalised).</summary>
    public static double[] Fit(IReadOnlyList<double[]> features, IReadOnlyList<bool> labels, double l2, double[]? priorWeights = null, int iterations = 50)
    {
        var d = features[0].Length + 1;
        var prior = priorWeights ?? new double[d];
        var w = (double[])prior.Clone();
        var current = Loss(w, features, labels, l2, prior);
        for (var iteration = 0; iteration < iterations; iteration++)
        {
            var gradient = new double[d];
            var hessian = new double[d, d];
            for (var r = 0; r < features.Count; r++)
            {
                var x = Row(features[r]);
                var p = Calibrator.Sigmoid(Dot(w, x));
                var residual = p - (labels[r] ? 1 : 0);
                var weight = Math.Max(p * (1 - p), 1e-9);
                for (var i = 0; i < d; i++)
                {
                    gradient[i] += residual * x[i];
                    for (var j = 0; j < d; j++)
                    {
                        hessian[i, j] += weight * x[i] * x[j];
                    }
                }
            }

            for (var i = 1; i < d; i++)
            {
                gradient[i] += l2 * (w[i] - prior[i]);
                hessian[i, i] += l2;
            }

            hessian[0, 0] += 1e-9;
            var step = Solve(hessian, gradient);

            // A full Newton step overshoots when features are large (logits of scores near 1 reach
            // ~14) and can diverge; halving it until the penalised loss does not grow keeps every
            // iteration an improvement.
            var scale = 1.0;
            double[] next;
            double nextLoss;
            do
            {
                next = [.. w.Select((wi, i) => wi - (scale * step[i]))];
                nextLoss = Loss(next, features, labels, l2, prior);
                scale /= 2;
            }
            while (nextLoss > current && scale > 1e-10);

            var change = 0.0;
            for (var i = 0; i < d; i++)
            {
                change = Math.Max(change, Math.Abs(next[i] - w[i]));
            }

            (w, current) = (next, nextLoss);

            if (change < 1e-8)
            {
                break;
            }
        }

        return w;
    }

    public static double Predict(double[] weights, double[] features) => Calibrator.Sigmoid(Dot(weights, Row(features)));

    private static double[] Row(double[] features) => [1, .. features];

    /// <summary>Negative log-likelihood plus the L2 pull towards the prior, computed stably from the logits.</summary>
    private static double Loss(double[] w, IReadOnlyList<double[]> features, IReadOnlyList<bool> labels, double l2, double[] prior)
    {
        double loss = 0;
        for (var r = 0; r < features.Count; r++)
        {
            var z = Dot(w, Row(features[r]));
            var signed = labels[r] ? z : -z;
            loss += signed > 0 ? Math.Log(1 + Math.Exp(-signed)) : -signed + Math.Log(1 + Math.Exp(signed));
        }

        for (var i = 1; i < w.Length; i++)
        {
            loss += l2 / 2 * (w[i] - prior[i]) * (w[i] - prior[i]);
        }

        return loss;
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <summary>Gaussian elimination with partial pivoting; the matrix is small and positive definite.</summary>
    private static double[] Solve(double[,] a, double[] b)
    {
        var n = b.Length;
        var m = (double[,])a.Clone();
        var x = (double[])b.Clone();
        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            for (var row = col + 1; row < n; row++)
            {
                if (Math.Abs(m[row, col]) > Math.Abs(m[pivot, col]))
                {
                    pivot = row;
                }
            }

            for (var k = 0; k < n; k++)
            {
                (m[col, k], m[pivot, k]) = (m[pivot, k], m[col, k]);
            }

            (x[col], x[pivot]) = (x[pivot], x[col]);
            for (var row = col + 1; row < n; row++)
            {
                var factor = m[row, col] / m[col, col];
                for (var k = col; k < n; k++)
                {
                    m[row, k] -= factor * m[col, k];
                }

                x[row] -= factor * x[col];
            }
        }

        for (var row = n - 1; row >= 0; row--)
        {
            for (var k = row + 1; k < n; k++)
            {
                x[row] -= m[row, k] * x[k];
            }

            x[row] /= m[row, row];
        }

        return x;
    }
}
