using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Router.Domain.Classification;
using Router.OnnxModels.Onnx;

namespace Router.OnnxModels;

/// <summary>
/// The pre-call classifier as an ONNX model: "features" float[N, D] -> MatMul(W[D, M]) -> Add(b[M])
/// -> Sigmoid -> "p_ik" float[N, M]. Model names, the featuriser's version and size, and how it was
/// trained travel in the model's metadata, so a loaded file says what it predicts and how to rebuild it.
/// </summary>
public static class LogisticOnnx
{
    public const string Input = "features";
    public const string Output = "p_ik";
    public const string ModelsKey = "models";
    public const string FeaturizerKey = "featurizer";
    public const string HashedDimensionsKey = "hashed_dimensions";
    public const string ProvenanceKey = "training";
    private const int Float = 1;

    public static byte[] Export(PerModelLogistic model, QueryFeaturizer featurizer, ClassifierProvenance provenance)
    {
        if (model.Features != featurizer.Dimensions)
        {
            throw new ArgumentException($"the model takes {model.Features} features; the featuriser makes {featurizer.Dimensions}.", nameof(featurizer));
        }

        var graph = new GraphProto { Name = "pre_call_p_ik" };
        graph.Initializer.Add(new TensorProto { Name = "W", DataType = Float, Dims = { model.Features, model.Models.Count }, RawData = ByteString.CopyFrom(ToBytes(model.Weights)) });
        graph.Initializer.Add(new TensorProto { Name = "b", DataType = Float, Dims = { model.Models.Count }, RawData = ByteString.CopyFrom(ToBytes(model.Bias)) });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { Input, "W" }, Output = { "logits_without_bias" }, Name = "matmul" });
        graph.Node.Add(new NodeProto { OpType = "Add", Input = { "logits_without_bias", "b" }, Output = { "logits" }, Name = "add" });
        graph.Node.Add(new NodeProto { OpType = "Sigmoid", Input = { "logits" }, Output = { Output }, Name = "sigmoid" });
        graph.Input.Add(Tensor(Input, model.Features));
        graph.Output.Add(Tensor(Output, model.Models.Count));
        var onnx = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "router classifier train",
            Graph = graph,
            OpsetImport = { new OperatorSetIdProto { Domain = string.Empty, Version = 13 } },
            MetadataProps =
            {
                new StringStringEntryProto { Key = ModelsKey, Value = string.Join("\n", model.Models) },
                new StringStringEntryProto { Key = FeaturizerKey, Value = QueryFeaturizer.Version },
                new StringStringEntryProto { Key = HashedDimensionsKey, Value = featurizer.HashedDimensions.ToString(CultureInfo.InvariantCulture) },
                new StringStringEntryProto { Key = ProvenanceKey, Value = JsonSerializer.Serialize(provenance, ClassifierArtifact.Json) },
            },
        };
        return onnx.ToByteArray();
    }

    private static ValueInfoProto Tensor(string name, int columns) => new()
    {
        Name = name,
        Type = new TypeProto
        {
            TensorType = new TypeProto.Types.Tensor
            {
                ElemType = Float,
                Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "N" }, new TensorShapeProto.Types.Dimension { DimValue = columns } } },
            },
        },
    };

    private static byte[] ToBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }
}

/// <summary>An exported classifier loaded in ONNX Runtime, with the featuriser it was trained with.</summary>
public sealed class OnnxClassifier : IDisposable
{
    private readonly InferenceSession _session;

    public OnnxClassifier(byte[] model, SessionOptions? options = null)
    {
        _session = options is null ? new InferenceSession(model) : new InferenceSession(model, options);
        try
        {
            var metadata = _session.ModelMetadata.CustomMetadataMap;
            Models = metadata.TryGetValue(LogisticOnnx.ModelsKey, out var models) ? models.Split('\n') : throw new InvalidDataException("The ONNX model has no 'models' metadata: it was not exported by router classifier train.");
            if (metadata.GetValueOrDefault(LogisticOnnx.FeaturizerKey) != QueryFeaturizer.Version)
            {
                throw new InvalidDataException($"The ONNX model was trained on query features '{metadata.GetValueOrDefault(LogisticOnnx.FeaturizerKey) ?? "hashed-v1"}'; this build computes '{QueryFeaturizer.Version}'. Train it again with router classifier train.");
            }

            Featurizer = new QueryFeaturizer(int.Parse(metadata[LogisticOnnx.HashedDimensionsKey], CultureInfo.InvariantCulture));
            Provenance = metadata.TryGetValue(LogisticOnnx.ProvenanceKey, out var provenance) ? JsonSerializer.Deserialize<ClassifierProvenance>(provenance, ClassifierArtifact.Json) : null;
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    public IReadOnlyList<string> Models { get; }

    public QueryFeaturizer Featurizer { get; }

    /// <summary>How it was trained, as recorded at export.</summary>
    public ClassifierProvenance? Provenance { get; }

    /// <summary>P(IK) of every model for the query, in <see cref="Models"/> order.</summary>
    public float[] Predict(string query)
    {
        var features = Featurizer.Featurize(query);
        using var input = OrtValue.CreateTensorValueFromMemory(features, [1, features.Length]);
        using var run = new RunOptions();
        using var results = _session.Run(run, [LogisticOnnx.Input], [input], [LogisticOnnx.Output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>
    /// AUROC per model on labelled queries, predicted through ONNX Runtime as the service predicts.
    /// <paramref name="labelsOf"/> maps a model of this classifier to the file's model that judges it.
    /// </summary>
    public IReadOnlyList<ModelAuroc> Evaluate(IReadOnlyList<ScoredQuery> queries, IReadOnlyDictionary<string, string>? labelsOf = null) =>
        ClassifierTraining.Evaluate(queries, [.. queries.Select(q => Array.ConvertAll(Predict(q.Question), p => (double)p))], Models, labelsOf);

    public void Dispose() => _session.Dispose();
}
