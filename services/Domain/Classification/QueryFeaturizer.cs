using System.Text;

namespace Router.Domain.Classification;

/// <summary>
/// Turns a query into a fixed-length feature vector from its text alone: hashed word unigrams and
/// bigrams and character trigrams (signed feature hashing, TF scaled to unit length), plus a few
/// structure features (length, digits, maths, code, options). Deterministic across processes
/// (FNV-1a over UTF-8, never string.GetHashCode), so the CLI that trains and the service that serves agree.
/// </summary>
public sealed class QueryFeaturizer(int hashedDimensions = 4096)
{
    public const int StructureFeatures = 6;

    public int HashedDimensions { get; } = hashedDimensions;

    public int Dimensions => HashedDimensions + StructureFeatures;

    public float[] Featurize(string query)
    {
        var features = new float[Dimensions];
        var text = query.ToLowerInvariant();
        var words = text.Split((char[])[' ', '\n', '\t', '\r', ',', '.', '?', '!', ';', ':', '(', ')', '"', '\''], StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < words.Length; i++)
        {
            Add(features, "w:" + words[i]);
            if (i > 0)
            {
                Add(features, "b:" + words[i - 1] + " " + words[i]);
            }
        }

        for (var i = 0; i + 3 <= text.Length && i < 2000; i++)
        {
            Add(features, "c:" + text.Substring(i, 3));
        }

        var norm = Math.Sqrt(features.Take(HashedDimensions).Sum(f => (double)f * f));
        if (norm > 0)
        {
            for (var i = 0; i < HashedDimensions; i++)
            {
                features[i] = (float)(features[i] / norm);
            }
        }

        var s = HashedDimensions;
        features[s] = (float)(Math.Log(1 + query.Length) / 10);
        features[s + 1] = (float)(Math.Log(1 + words.Length) / 8);
        features[s + 2] = query.Count(char.IsDigit) / (float)Math.Max(1, query.Length) * 10;
        features[s + 3] = query.IndexOfAny(['=', '+', '*', '^', '/']) >= 0 ? 1 : 0;
        features[s + 4] = query.Contains("def ", StringComparison.Ordinal) || query.Contains('{') || query.Contains("```", StringComparison.Ordinal) ? 1 : 0;
        features[s + 5] = query.Contains("A)", StringComparison.Ordinal) || query.Contains("(A)", StringComparison.Ordinal) || query.Contains("A.", StringComparison.Ordinal) ? 1 : 0;
        return features;
    }

    private static uint Fnv1a(byte[] bytes)
    {
        var hash = 2166136261u;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }

    private void Add(float[] features, string gram)
    {
        var hash = Fnv1a(Encoding.UTF8.GetBytes(gram));
        var index = (int)(hash % (uint)HashedDimensions);
        features[index] += (hash & 0x80000000) != 0 ? -1 : 1;
    }
}
