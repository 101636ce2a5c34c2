using System.Globalization;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Router.Domain.Classification;
using Router.OnnxModels.Onnx;

namespace Router.OnnxModels;

/// <summary>
/// The pre-call classifier as an ONNX model: "features" float[N, D] -> MatMul(W[D, M]) -> Add(b[M])
/// -> Sigmoid -> "p_ik" float[N, M]. Model names and the featuriser's size travel in the model's
/// metadata, so a loaded file says what it predicts.
/// </summary>
public static class LogisticOnnx
{
    public const string Input = "features";
    public const string Output = "p_ik";
    private const int Float = 1;

    public static byte[] Export(PerModelLogistic model, int hashedDimensions)
    {
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
                new StringStringEntryProto { Key = "models", Value = string.Join("\n", model.Models) },
                new StringStringEntryProto { Key = "hashed_dimensions", Value = hashedDimensions.ToString(CultureInfo.InvariantCulture) },
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
        var metadata = _session.ModelMetadata.CustomMetadataMap;
        Models = metadata.TryGetValue("models", out var models) ? models.Split('\n') : throw new InvalidOperationException("The ONNX model has no 'models' metadata: it was not exported by router classifier train.");
        Featurizer = new QueryFeaturizer(int.Parse(metadata["hashed_dimensions"], CultureInfo.InvariantCulture));
    }

    public IReadOnlyList<string> Models { get; }

    public QueryFeaturizer Featurizer { get; }

    /// <summary>P(IK) of every model for the query, in <see cref="Models"/> order.</summary>
    public float[] Predict(string query)
    {
        var features = Featurizer.Featurize(query);
        using var input = OrtValue.CreateTensorValueFromMemory(features, [1, features.Length]);
        using var results = _session.Run(new RunOptions(), [LogisticOnnx.Input], [input], [LogisticOnnx.Output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose() => _session.Dispose();
}
