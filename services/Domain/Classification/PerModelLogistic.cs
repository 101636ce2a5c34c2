namespace Router.Domain.Classification;

/// <summary>
/// One logistic regression per model over shared query features: P(IK) = sigmoid(x . W[:, m] + b[m]).
/// Weights are laid out [feature, model], the layout of the exported ONNX MatMul.
/// </summary>
public sealed record PerModelLogistic(IReadOnlyList<string> Models, int Features, float[] Weights, float[] Bias)
{
    public double[] Predict(float[] x)
    {
        var result = new double[Models.Count];
        for (var m = 0; m < Models.Count; m++)
        {
            double z = Bias[m];
            for (var f = 0; f < Features; f++)
            {
                if (x[f] != 0)
                {
                    z += x[f] * Weights[f * Models.Count + m];
                }
            }

            result[m] = 1 / (1 + Math.Exp(-z));
        }

        return result;
    }

    /// <summary>
    /// Mini-batch gradient descent on the log-loss with L2, all models at once, deterministic for
    /// a seed. Labels: did the model answer correctly (score >= 0.5).
    /// </summary>
    public static PerModelLogistic Train(IReadOnlyList<string> models, IReadOnlyList<float[]> features, IReadOnlyList<bool[]> labels, int epochs = 12, double learningRate = 0.5, double l2 = 1e-4, int seed = 7)
    {
        var d = features[0].Length;
        var m = models.Count;
        var w = new double[d * m];
        var b = new double[m];
        for (var j = 0; j < m; j++)
        {
            var rate = Math.Clamp(labels.Average(l => l[j] ? 1.0 : 0.0), 0.01, 0.99);
            b[j] = Math.Log(rate / (1 - rate));
        }

        var order = Enumerable.Range(0, features.Count).ToArray();
        var random = new Random(seed);
        const int Batch = 32;
        var gradient = new double[d * m];
        var gradientBias = new double[m];
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            random.Shuffle(order);
            var rate = learningRate / (1 + epoch * 0.3);
            for (var start = 0; start < order.Length; start += Batch)
            {
                Array.Clear(gradient);
                Array.Clear(gradientBias);
                var end = Math.Min(order.Length, start + Batch);
                for (var k = start; k < end; k++)
                {
                    var x = features[order[k]];
                    for (var j = 0; j < m; j++)
                    {
                        var z = b[j];
                        for (var f = 0; f < d; f++)
                        {
                            if (x[f] != 0)
                            {
                                z += x[f] * w[f * m + j];
                            }
                        }

                        var error = 1 / (1 + Math.Exp(-z)) - (labels[order[k]][j] ? 1 : 0);
                        gradientBias[j] += error;
                        for (var f = 0; f < d; f++)
                        {
                            if (x[f] != 0)
                            {
                                gradient[f * m + j] += error * x[f];
                            }
                        }
                    }
                }

                var size = end - start;
                for (var i = 0; i < w.Length; i++)
                {
                    w[i] -= rate * (gradient[i] / size + l2 * w[i]);
                }

                for (var j = 0; j < m; j++)
                {
                    b[j] -= rate * gradientBias[j] / size;
                }
            }
        }

        return new PerModelLogistic(models, d, [.. w.Select(v => (float)v)], [.. b.Select(v => (float)v)]);
    }
}
