using Grpc.Core;
using Microsoft.Extensions.Options;
using Router.Contracts;

namespace Router.ClassifierService;

/// <summary>Predicts P(IK) per model from the query alone and where the cascade should start.</summary>
public sealed class ClassifierGrpcService(ClassifierModel model, IOptions<ClassifierOptions> options) : Router.Contracts.Classifier.ClassifierBase
{
    public override Task<PredictResponse> Predict(PredictRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Query))
        {
            throw Invalid("query", "is required: the text the models would answer.");
        }

        if (request.Models.Count == 0)
        {
            throw Invalid("models", "must list the chain, cheapest first.");
        }

        if (double.IsNaN(request.MinPIk) || request.MinPIk is < 0 or > 1)
        {
            throw Invalid("min_p_ik", $"must be in [0, 1] (0 = the service's default); got {request.MinPIk}.");
        }

        if (model.Current is not { } loaded)
        {
            return Task.FromResult(new PredictResponse
            {
                StartStage = 0,
                Fallback = true,
                Reason = "no trained classifier is loaded (set Classifier:ModelPath, e.g. to Models/default-portfolio.onnx for the default fleet, or store one with `router classifier train --connection`); starting at the cheapest model",
            });
        }

        var minimum = request.MinPIk > 0 ? request.MinPIk : options.Value.MinPIk;
        var probabilities = loaded.Model.Predict(request.Query);
        var known = loaded.Model.Models.Select((name, i) => (name, i)).ToDictionary(m => m.name, m => probabilities[m.i]);
        var response = new PredictResponse { Classifier = loaded.Name, ClassifierVersion = loaded.Version };
        var start = -1;
        var unknown = new List<string>();
        for (var stage = 0; stage < request.Models.Count; stage++)
        {
            var name = request.Models[stage];
            if (known.TryGetValue(name, out var p))
            {
                response.Predictions.Add(new ModelPrediction { Model = name, PIk = p });
            }
            else
            {
                unknown.Add(name);
            }

            // A model the classifier cannot judge is tried rather than skipped.
            if (start < 0 && (!known.TryGetValue(name, out var q) || q >= minimum) && stage < request.Models.Count - 1)
            {
                start = stage;
            }
        }

        response.StartStage = start < 0 ? request.Models.Count - 1 : start;
        response.Reason = unknown.Count == 0
            ? $"start at the first model with P(IK) >= {minimum:0.##}"
            : $"start at the first model with P(IK) >= {minimum:0.##}; no prediction for {string.Join(", ", unknown)} (not in the classifier), which are tried rather than skipped";
        return Task.FromResult(response);
    }

    private static RpcException Invalid(string field, string problem) => new(new Status(StatusCode.InvalidArgument, $"{field} {problem}"));
}
