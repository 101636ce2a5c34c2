namespace Router.Domain.Classification;

/// <summary>
/// One logistic regression per model over shared query features: P(IK) = sigmoid(x . W[:, m] + b[m]).
/// Weights are laid out [feature, model], the layout of the exported ONNX MatMul.
/// </summary>
public sealed record PerModelLogistic(IReadOnlyList<string> Models, int Features, float[] Weights, float[] Bias)
{
    public double[] Predict(SparseFeatures x)
    {
        var models = Models.Count;
        var z = Bias.Select(b => (double)b).ToArray();
        for (var k = 0; k < x.Indices.Length; k++)
        {
            var row = x.Indices[k] * models;
            for (var m = 0; m < models; m++)
            {
                z[m] += x.Values[k] * Weights[row + m];
            }
        }

        return [.. z.Select(Sigmoid)];
    }

    internal static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
}

/// <summary>How one model's logistic regression is regularised and how long it trains.</summary>
public sealed record LogisticFit(double L2, int Epochs);

/// <summary>
/// Trains <see cref="PerModelLogistic"/> with Adam on the cross-entropy against soft targets in
/// [0, 1] (a model's score on the query, not only right/wrong) plus an L2 penalty per model.
/// Columns from <c>standardiseFrom</c> on (dense structure features in their natural units) are
/// standardised while training and the scaling is folded back into the weights and bias, so the
/// result takes raw features and exports as one MatMul + Add. Deterministic for a seed.
/// </summary>
public static class AdamLogistic
{
    public const double LearningRate = 0.003;
    public const int BatchSize = 128;
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Epsilon = 1e-8;

    /// <summary>
    /// Trains every model at once for the longest of <paramref name="fits"/>' epochs; model m keeps its
    /// weights as they were after its own epoch count. A NaN target (no label for that model) adds no loss.
    /// <paramref name="afterEpoch"/> sees the model after each epoch (1-based), for choosing the epoch count.
    /// </summary>
    public static PerModelLogistic Train(
        IReadOnlyList<string> models,
        int features,
        int standardiseFrom,
        IReadOnlyList<SparseFeatures> x,
        IReadOnlyList<double[]> targets,
        IReadOnlyList<LogisticFit> fits,
        int seed,
        Action<int, PerModelLogistic>? afterEpoch = null)
    {
        var m = models.Count;
        var n = x.Count;
        var (mean, scale) = Standardisation(x, features, standardiseFrom);
        var standardised = x.Select(row => Standardise(row, standardiseFrom, mean, scale)).ToArray();

        var w = new double[features * m];
        var b = new double[m];
        for (var j = 0; j < m; j++)
        {
            var labelled = targets.Select(t => t[j]).Where(t => !double.IsNaN(t)).DefaultIfEmpty(0.5);
            var rate = Math.Clamp(labelled.Average(), 0.01, 0.99);
            b[j] = Math.Log(rate / (1 - rate));
        }

        var l2 = fits.Select(f => f.L2).ToArray();
        var adamW = new Moments(w.Length);
        var adamB = new Moments(m);
        var gradient = new double[w.Length];
        var gradientBias = new double[m];
        var touched = new bool[features];
        var touchedRows = new List<int>();
        var error = new double[m];
        var kept = new PerModelLogistic(models, features, new float[w.Length], new float[m]);
        var order = Enumerable.Range(0, n).ToArray();
        var random = new Random(seed);
        var step = 0;
        var epochs = fits.Max(f => f.Epochs);
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            random.Shuffle(order);
            for (var start = 0; start < n; start += BatchSize)
            {
                var end = Math.Min(n, start + BatchSize);
                var size = end - start;
                Array.Clear(gradientBias);
                foreach (var row in touchedRows)
                {
                    Array.Clear(gradient, row * m, m);
                    touched[row] = false;
                }

                touchedRows.Clear();
                for (var k = start; k < end; k++)
                {
                    var row = standardised[order[k]];
                    var target = targets[order[k]];
                    Logits(row, w, b, m, error);
                    for (var j = 0; j < m; j++)
                    {
                        error[j] = double.IsNaN(target[j]) ? 0 : (PerModelLogistic.Sigmoid(error[j]) - target[j]) / size;
                        gradientBias[j] += error[j];
                    }

                    var (indices, values) = (row.Indices, row.Values);
                    for (var q = 0; q < indices.Length; q++)
                    {
                        var f = indices[q];
                        if (!touched[f])
                        {
                            touched[f] = true;
                            touchedRows.Add(f);
                        }

                        for (int j = 0, i = f * m; j < m; j++, i++)
                        {
                            gradient[i] += values[q] * error[j];
                        }
                    }
                }

                step++;
                var correction = (First: 1 - Math.Pow(Beta1, step), Second: 1 - Math.Pow(Beta2, step));
                for (var f = 0; f < features; f++)
                {
                    for (int j = 0, i = f * m; j < m; j++, i++)
                    {
                        adamW.Step(w, i, gradient[i] + l2[j] * w[i], correction);
                    }
                }

                for (var j = 0; j < m; j++)
                {
                    adamB.Step(b, j, gradientBias[j], correction);
                }
            }

            var current = Unstandardised(models, features, standardiseFrom, w, b, mean, scale);
            afterEpoch?.Invoke(epoch, current);
            for (var j = 0; j < m; j++)
            {
                if (fits[j].Epochs == epoch)
                {
                    for (var f = 0; f < features; f++)
                    {
                        kept.Weights[f * m + j] = current.Weights[f * m + j];
                    }

                    kept.Bias[j] = current.Bias[j];
                }
            }
        }

        return kept;
    }

    private static void Logits(SparseFeatures row, double[] w, double[] b, int m, double[] z)
    {
        Array.Copy(b, z, m);
        var (indices, values) = (row.Indices, row.Values);
        for (var q = 0; q < indices.Length; q++)
        {
            for (int j = 0, i = indices[q] * m; j < m; j++, i++)
            {
                z[j] += values[q] * w[i];
            }
        }
    }

    private static (double[] Mean, double[] Scale) Standardisation(IReadOnlyList<SparseFeatures> x, int features, int from)
    {
        var columns = features - from;
        var mean = new double[columns];
        var variance = new double[columns];
        foreach (var row in x)
        {
            for (var k = 0; k < row.Indices.Length; k++)
            {
                if (row.Indices[k] >= from)
                {
                    mean[row.Indices[k] - from] += row.Values[k] / (double)x.Count;
                }
            }
        }

        // Sparse rows leave zeros out: every row contributes (0 - mean)^2 unless it holds the column.
        for (var c = 0; c < columns; c++)
        {
            variance[c] = x.Count * mean[c] * mean[c];
        }

        foreach (var row in x)
        {
            for (var k = 0; k < row.Indices.Length; k++)
            {
                if (row.Indices[k] >= from)
                {
                    var c = row.Indices[k] - from;
                    variance[c] += Math.Pow(row.Values[k] - mean[c], 2) - mean[c] * mean[c];
                }
            }
        }

        // A constant column keeps scale 1: it carries nothing and must not blow up.
        return (mean, [.. variance.Select(v => v / x.Count > 1e-12 ? Math.Sqrt(v / x.Count) : 1)]);
    }

    private static SparseFeatures Standardise(SparseFeatures row, int from, double[] mean, double[] scale) =>
        new(row.Indices, [.. row.Values.Select((v, k) => row.Indices[k] >= from ? (float)((v - mean[row.Indices[k] - from]) / scale[row.Indices[k] - from]) : v)]);

    /// <summary>w' = w / s and b' = b - sum(w' * mean): the same logits from raw features.</summary>
    private static PerModelLogistic Unstandardised(IReadOnlyList<string> models, int features, int from, double[] w, double[] b, double[] mean, double[] scale)
    {
        var m = models.Count;
        var weights = new float[w.Length];
        var bias = (double[])b.Clone();
        for (var f = 0; f < features; f++)
        {
            for (var j = 0; j < m; j++)
            {
                var value = f >= from ? w[f * m + j] / scale[f - from] : w[f * m + j];
                weights[f * m + j] = (float)value;
                if (f >= from)
                {
                    bias[j] -= value * mean[f - from];
                }
            }
        }

        return new PerModelLogistic(models, features, weights, [.. bias.Select(v => (float)v)]);
    }

    /// <summary>Adam's first and second moment estimates, bias-corrected.</summary>
    private sealed class Moments(int size)
    {
        private readonly double[] _first = new double[size];
        private readonly double[] _second = new double[size];

        public void Step(double[] parameters, int i, double gradient, (double First, double Second) correction)
        {
            var first = _first[i] = Beta1 * _first[i] + (1 - Beta1) * gradient;
            var second = _second[i] = Beta2 * _second[i] + (1 - Beta2) * gradient * gradient;
            parameters[i] -= LearningRate * (first / correction.First) / (Math.Sqrt(second / correction.Second) + Epsilon);
        }
    }
}
