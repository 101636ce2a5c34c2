using System.Text;

namespace Router.Domain.Classification;

/// <summary>A feature vector stored as its non-zero entries, indices ascending.</summary>
public readonly record struct SparseFeatures(int[] Indices, float[] Values)
{
    public float[] ToDense(int dimensions)
    {
        var dense = new float[dimensions];
        for (var k = 0; k < Indices.Length; k++)
        {
            dense[Indices[k]] = Values[k];
        }

        return dense;
    }
}

/// <summary>
/// Turns a query into a fixed-length feature vector from its text alone: hashed word unigrams and
/// bigrams and character trigrams (signed feature hashing, sublinear term frequency, scaled to unit
/// length), then <see cref="StructureFeatureNames"/> in their natural units (the trainer
/// standardises them and folds the scaling into the weights). Deterministic across processes
/// (FNV-1a over UTF-8, never string.GetHashCode), so the CLI that trains and the service that serves agree.
/// </summary>
public sealed class QueryFeaturizer(int hashedDimensions = QueryFeaturizer.DefaultHashedDimensions)
{
    public const int DefaultHashedDimensions = 1 << 14;

    /// <summary>Travels in an exported model's metadata: a model is only served with the features it was trained on.</summary>
    public const string Version = "hashed-v2";

    /// <summary>Character n-grams are taken from the first this many characters: a pasted document adds little beyond its start.</summary>
    private const int CharacterGramSpan = 2000;

    public static readonly IReadOnlyList<string> StructureFeatureNames =
    [
        "log characters", "log words", "log lines", "digit share", "upper-case share", "punctuation share",
        "non-ASCII share", "arithmetic operator", "LaTeX or dollar", "code", "lettered options",
        "log question marks", "log numbers", "mean word length", "distinct word share", "log longest word",
        "ends with a question mark", "mentions steps",
    ];

    private const uint FnvOffset = 2166136261u;
    private static readonly uint WordPrefix = Fnv1a(FnvOffset, "w:");
    private static readonly uint BigramPrefix = Fnv1a(FnvOffset, "b:");
    private static readonly uint CharacterPrefix = Fnv1a(FnvOffset, "c:");

    private static readonly char[] WordSeparators = [' ', '\n', '\t', '\r', ',', '.', '?', '!', ';', ':', '(', ')', '"', '\''];

    public int HashedDimensions { get; } = hashedDimensions > 0 ? hashedDimensions : throw new ArgumentOutOfRangeException(nameof(hashedDimensions), "must be positive");

    public int Dimensions => HashedDimensions + StructureFeatureNames.Count;

    /// <summary>The features as the exported ONNX model takes them.</summary>
    public float[] Featurize(string query) => FeaturizeSparse(query).ToDense(Dimensions);

    public SparseFeatures FeaturizeSparse(string query)
    {
        var counts = new Dictionary<int, float>();
        var text = query.ToLowerInvariant();
        var words = text.Split(WordSeparators, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < words.Length; i++)
        {
            Add(counts, Fnv1a(WordPrefix, words[i]));
            if (i > 0)
            {
                Add(counts, Fnv1a(Fnv1a(Fnv1a(BigramPrefix, words[i - 1]), " "), words[i]));
            }
        }

        for (var i = 0; i + 3 <= text.Length && i < CharacterGramSpan; i++)
        {
            Add(counts, Fnv1a(CharacterPrefix, text.AsSpan(i, 3)));
        }

        // Sublinear term frequency: a word said ten times is not ten times the evidence.
        var hashed = counts.Where(c => c.Value != 0).Select(c => (Index: c.Key, Value: MathF.Sign(c.Value) * (1 + MathF.Log(MathF.Abs(c.Value))))).OrderBy(c => c.Index).ToList();
        var norm = (float)Math.Sqrt(hashed.Sum(c => (double)c.Value * c.Value));
        var structure = Structure(query, words);
        var indices = new int[hashed.Count + structure.Length];
        var values = new float[indices.Length];
        for (var k = 0; k < hashed.Count; k++)
        {
            indices[k] = hashed[k].Index;
            values[k] = hashed[k].Value / norm;
        }

        for (var s = 0; s < structure.Length; s++)
        {
            indices[hashed.Count + s] = HashedDimensions + s;
            values[hashed.Count + s] = structure[s];
        }

        return new SparseFeatures(indices, values);
    }

    private static float[] Structure(string query, string[] words)
    {
        var length = Math.Max(1, query.Length);
        float Share(Func<char, bool> predicate) => query.Count(predicate) / (float)length;
        float Log(int count) => (float)Math.Log(1 + count);
        var numbers = query.Where((c, i) => char.IsDigit(c) && (i == 0 || !char.IsDigit(query[i - 1]))).Count();
        return
        [
            Log(query.Length),
            Log(words.Length),
            Log(query.Count(c => c == '\n')),
            Share(char.IsDigit),
            Share(char.IsUpper),
            Share(char.IsPunctuation),
            Share(c => c > 127),
            query.IndexOfAny(['=', '+', '*', '^', '/']) >= 0 ? 1 : 0,
            query.Contains('$') || query.Contains('\\') ? 1 : 0,
            query.Contains("def ", StringComparison.Ordinal) || query.Contains('{') || query.Contains("```", StringComparison.Ordinal) ? 1 : 0,
            query.Contains("A)", StringComparison.Ordinal) || query.Contains("A.", StringComparison.Ordinal) || query.Contains("A:", StringComparison.Ordinal) ? 1 : 0,
            Log(query.Count(c => c == '?')),
            Log(numbers),
            words.Length == 0 ? 0 : (float)words.Average(w => w.Length),
            words.Length == 0 ? 0 : words.Distinct(StringComparer.Ordinal).Count() / (float)words.Length,
            Log(words.Length == 0 ? 0 : words.Max(w => w.Length)),
            query.TrimEnd().EndsWith('?') ? 1 : 0,
            query.Contains("step", StringComparison.OrdinalIgnoreCase) ? 1 : 0,
        ];
    }

    /// <summary>FNV-1a over the UTF-8 bytes of <paramref name="text"/>, continuing from <paramref name="hash"/>: a gram is hashed in pieces without building its string.</summary>
    private static uint Fnv1a(uint hash, ReadOnlySpan<char> text)
    {
        var bytes = text.Length <= 256 ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(text.Length)] : new byte[Encoding.UTF8.GetMaxByteCount(text.Length)];
        foreach (var b in bytes[..Encoding.UTF8.GetBytes(text, bytes)])
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }

    /// <summary>Signed feature hashing: the bucket of a gram, and the sign that keeps collisions from adding up on average.</summary>
    internal (int Index, int Sign) BucketOf(string gram) => BucketOf(Fnv1a(FnvOffset, gram));

    private (int Index, int Sign) BucketOf(uint hash) => ((int)(hash % (uint)HashedDimensions), (hash & 0x80000000) != 0 ? -1 : 1);

    private void Add(Dictionary<int, float> counts, uint hash)
    {
        var (index, sign) = BucketOf(hash);
        counts[index] = counts.GetValueOrDefault(index) + sign;
    }
}
