using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Routing;

namespace Router.Gateway.Routing;

/// <summary>
/// Asks the Classifier where a pre-call or hybrid route starts (P(IK) per model from the query
/// alone). Bounded by Routing:ControlTimeout and a breaker: when it cannot answer the route starts
/// at the cheapest model and the trace says why.
/// </summary>
public sealed class StartPredictor(DownstreamClients clients, DependencyBreakers breakers, IOptionsMonitor<RoutingOptions> routing)
{
    /// <summary>The chain index to start at, or null to start at the cheapest.</summary>
    public async Task<int?> PredictAsync(RoutingTrace trace, ValidatedChatRequest request, CancellationToken cancellationToken)
    {
        if (trace.Mode is not (RoutingMode.PreCall or RoutingMode.Hybrid))
        {
            return null;
        }

        var query = string.Join("\n", request.Messages.Where(m => m.Role == "user").Select(m => m.Content));
        var (prediction, failure) = await breakers.CallAsync<PredictResponse?>(
            DependencyBreakers.Classifier,
            routing.CurrentValue.ControlTimeout,
            async token => await clients.Classifier.PredictAsync(new PredictRequest { Query = query, Models = { trace.Chain } }, cancellationToken: token),
            null,
            cancellationToken);
        if (prediction is null)
        {
            trace.Notes.Add($"classifier_unavailable: starting at the cheapest model ({failure})");
            return null;
        }

        var start = Math.Clamp(prediction.StartStage, 0, trace.Chain.Count - 1);
        trace.PreCall = new PreCallPrediction(
            $"{prediction.Classifier}@{prediction.ClassifierVersion}",
            prediction.Fallback,
            prediction.Fallback ? prediction.Reason : null,
            prediction.Predictions.ToDictionary(p => p.Model, p => p.PIk),
            trace.Chain[start]);
        return start;
    }
}
