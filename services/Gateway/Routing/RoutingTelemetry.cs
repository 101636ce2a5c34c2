using System.Diagnostics;
using System.Diagnostics.Metrics;
using Router.Domain.Routing;

namespace Router.Gateway.Routing;

/// <summary>
/// The router's spans and metrics. Model calls are spans named by OpenTelemetry's GenAI semantic
/// conventions (`chat {model}` with gen_ai.* attributes, plus the stage's cost and decision);
/// every hop is timed once and the same measurement goes to the trace's hops_ms and the
/// router.hop.duration histogram.
/// </summary>
public sealed class RoutingTelemetry
{
    public const string Name = "Router.Gateway";

    private static readonly ActivitySource Source = new(Name);

    private readonly Counter<long> _requests;
    private readonly Counter<long> _stages;
    private readonly Histogram<double> _stageDuration;
    private readonly Histogram<double> _hopDuration;
    private readonly Counter<double> _cost;
    private readonly Counter<double> _counterfactualCost;
    private readonly Counter<long> _cacheLookups;

    public RoutingTelemetry(IMeterFactory meters, WorkerCircuits circuits)
    {
        var meter = meters.Create(Name);
        _requests = meter.CreateCounter<long>("router.requests", description: "Routed requests by mode, policy and outcome.");
        _stages = meter.CreateCounter<long>("router.stages", description: "Stages run, by model, decision and reason (escalations are decision=escalate).");
        _stageDuration = meter.CreateHistogram<double>("router.stage.duration", "ms", "Time of one model's stage, from the call to its answer or failure.");
        _hopDuration = meter.CreateHistogram<double>("router.hop.duration", "ms", "Time spent in each hop of a route (worker, scoring, classifier, policy, response_cache, ledger_journal).");
        _cost = meter.CreateCounter<double>("router.cost", "USD", "What routed requests paid, every attempt included.");
        _counterfactualCost = meter.CreateCounter<double>("router.counterfactual_cost", "USD", "What the same requests would have cost on the top model of their chain.");
        _cacheLookups = meter.CreateCounter<long>("router.response_cache.lookups", description: "Response cache lookups by result (hit, miss, refresh, unavailable).");
        meter.CreateObservableGauge(
            "router.circuit.open",
            () => circuits.States().Select(s => new Measurement<int>(s.Open ? 1 : 0, new KeyValuePair<string, object?>("worker", s.Worker))),
            description: "1 while a worker's circuit is open (it is skipped), else 0.");
    }

    public static Activity? StartRoute(string requestId, string policy, RoutingMode mode)
    {
        var activity = Source.StartActivity("route");
        activity?.SetTag("router.request_id", requestId);
        activity?.SetTag("router.policy", policy);
        activity?.SetTag("router.mode", mode.Wire());
        return activity;
    }

    /// <summary>A model call, as the GenAI conventions name it.</summary>
    public static Activity? StartModelCall(string model, int stage)
    {
        var activity = Source.StartActivity($"chat {model}", ActivityKind.Client);
        activity?.SetTag("gen_ai.operation.name", "chat");
        activity?.SetTag("gen_ai.request.model", model);
        activity?.SetTag("router.stage", stage);
        return activity;
    }

    public void StageDone(Activity? activity, AttemptTrace attempt)
    {
        var reason = attempt.Reason?.Wire() ?? "none";
        var decision = attempt.Decision?.Wire() ?? "none";
        _stages.Add(1, new("model", attempt.Model), new("decision", decision), new("reason", reason));
        _stageDuration.Record(attempt.LatencyMs, new KeyValuePair<string, object?>("model", attempt.Model));
        if (activity is null)
        {
            return;
        }

        activity.SetTag("gen_ai.response.model", attempt.Model);
        activity.SetTag("gen_ai.usage.input_tokens", attempt.PromptTokens);
        activity.SetTag("gen_ai.usage.output_tokens", attempt.CompletionTokens);
        activity.SetTag("gen_ai.response.finish_reasons", attempt.FinishReason);
        activity.SetTag("router.cost_usd", (double)attempt.CostUsd);
        activity.SetTag("router.confidence", attempt.Confidence);
        activity.SetTag("router.decision", decision);
        activity.SetTag("router.reason", reason);
        if (attempt.Error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, attempt.Error);
        }
    }

    public void RouteDone(Activity? activity, RoutingTrace trace, string outcome)
    {
        _requests.Add(1, new("mode", trace.Mode.Wire()), new("policy", trace.Policy), new("outcome", outcome));
        _cost.Add((double)trace.CostUsd, new KeyValuePair<string, object?>("policy", trace.Policy));
        _counterfactualCost.Add((double)trace.CounterfactualCostUsd, new KeyValuePair<string, object?>("policy", trace.Policy));
        activity?.SetTag("router.final_model", trace.FinalModel);
        activity?.SetTag("router.cost_usd", (double)trace.CostUsd);
        activity?.SetTag("router.counterfactual_cost_usd", (double)trace.CounterfactualCostUsd);
        activity?.SetTag("router.outcome", outcome);
    }

    public void CacheLookup(string result) => _cacheLookups.Add(1, new KeyValuePair<string, object?>("result", result));

    /// <summary>Times a hop; disposing it adds the time to the trace's hops_ms and the histogram.</summary>
    public Hop Time(RoutingTrace trace, string hop) => new(this, trace, hop, Stopwatch.GetTimestamp());

    public readonly struct Hop(RoutingTelemetry telemetry, RoutingTrace trace, string name, long started) : IDisposable
    {
        public void Dispose()
        {
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            trace.AddHop(name, elapsed);
            telemetry._hopDuration.Record(elapsed, new KeyValuePair<string, object?>("hop", name));
        }
    }
}
