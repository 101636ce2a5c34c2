using System.Text.Json;
using Router.Domain.Costs;
using Router.Domain.Policies;
using Router.Domain.Routing;
using Xunit;

namespace Router.Domain.Tests.Routing;

/// <summary>Every rule of a route, without a host: what is called next, what is decided and how the route ends.</summary>
public sealed class CascadeRunTests
{
    private static readonly IReadOnlyList<PortfolioModel> Portfolio =
    [
        new("small", new TokenPrice(0.1m, 0.1m)),
        new("medium", new TokenPrice(1m, 1m)),
        new("large", new TokenPrice(10m, 10m)),
    ];

    private static readonly PinnedPolicy ThreeStages = new("default", "4", new PolicyArtifact(["small", "medium", "large"], [0.8, 0.6], "calibrated", null, "test", null, null, null));
    private static readonly TimeSpan StageTimeout = TimeSpan.FromSeconds(120);

    private static CascadePlan Plan(RequestLimits? limits = null, RoutingMode mode = RoutingMode.Cascade, int? start = null, PinnedPolicy? policy = null, bool policyUnavailable = false) =>
        CascadePlanner.Routed("default", policyUnavailable ? null : policy ?? ThreeStages, mode, start, Portfolio, limits ?? new RequestLimits(), StageTimeout);

    private static StageAnswered Answer(double confidence) => new(confidence, 100, 20);

    [Fact]
    public void A_confident_first_stage_is_accepted_and_nothing_else_is_called()
    {
        var run = new CascadeRun(Plan());
        var call = run.NextStage(0)!;
        Assert.Equal(("small", 0, false, StageTimeout), (call.Stage.Model, call.Index, call.IsLast, call.Deadline));

        var record = run.Record(Answer(0.9), 0.001m, 10);

        Assert.Equal((PolicyDecision.Accept, StageReason.ConfidenceAboveThreshold, 0.8), (record.Decision, record.Reason, record.Threshold));
        Assert.Null(run.NextStage(20));
        Assert.Equal(new RouteAnswered(0), run.Result);
        Assert.Equal(0.001m, run.SpentUsd);
    }

    [Fact]
    public void A_stage_unsure_before_it_answers_escalates_without_generating_and_leaves_no_answer_to_fall_back_on()
    {
        var run = new CascadeRun(Plan());
        var first = run.NextStage(0)!;
        Assert.False(run.EscalatesBeforeAnswer(first, 0.9, 40, 5));
        Assert.True(run.EscalatesBeforeAnswer(first, 0.3, 40, 5));

        var declined = run.Record(new StageDeclined(0.3, 40), 0.000004m, 5);
        var last = run.NextStage(5)!;
        run.Record(Answer(0.7), 0.01m, 20);

        Assert.Equal((PolicyDecision.Escalate, StageReason.ConfidenceBelowThreshold, 0.8, false), (declined.Decision, declined.Reason, declined.Threshold, declined.Discarded));
        Assert.Equal("medium", last.Stage.Model);
        Assert.Equal(new RouteAnswered(1), run.Result);
        Assert.Equal(0.010004m, run.SpentUsd);
    }

    [Fact]
    public void The_last_stage_and_a_direct_model_never_escalate_before_answering()
    {
        var run = new CascadeRun(Plan());
        run.NextStage(0);
        run.Record(Answer(0.1), 0.001m, 5);
        run.NextStage(5);
        run.Record(Answer(0.1), 0.01m, 10);
        var last = run.NextStage(10)!;
        var direct = new CascadeRun(CascadePlanner.Direct(Portfolio[0], Portfolio, new RequestLimits(), StageTimeout));

        Assert.True(last.IsLast);
        Assert.False(run.EscalatesBeforeAnswer(last, 0.01, 40, 5));
        Assert.False(direct.EscalatesBeforeAnswer(direct.NextStage(0)!, 0.01, 40, 5));
    }

    [Fact]
    public void Declined_stages_alone_are_no_answer_when_every_later_stage_fails()
    {
        var run = new CascadeRun(Plan());
        run.NextStage(0);
        run.Record(new StageDeclined(0.1, 40), 0.000004m, 5);
        run.NextStage(5);
        run.Record(new StageDeclined(0.1, 40), 0.00004m, 6);
        run.NextStage(6);
        run.Record(new StageFailed(StageReason.StageFailed), 0m, 10);

        Assert.Null(run.NextStage(10));
        Assert.IsType<RouteFailed>(run.Result);
    }

    [Fact]
    public void Unsure_stages_escalate_and_are_discarded_until_the_last_stage_answers_whatever_its_confidence()
    {
        var run = new CascadeRun(Plan());
        run.NextStage(0);
        var first = run.Record(Answer(0.5), 0.001m, 10);
        Assert.Equal("medium", run.NextStage(10)!.Stage.Model);
        var second = run.Record(Answer(0.55), 0.01m, 20);
        var last = run.NextStage(20)!;
        Assert.True(last.IsLast);
        var third = run.Record(Answer(0.01), 0.1m, 30);

        Assert.Equal((PolicyDecision.Escalate, StageReason.ConfidenceBelowThreshold, true), (first.Decision, first.Reason, first.Discarded));
        Assert.Equal((PolicyDecision.Escalate, 0.6), (second.Decision, second.Threshold));
        Assert.Equal((PolicyDecision.Accept, StageReason.LastStage, false), (third.Decision, third.Reason, third.Discarded));
        Assert.Equal(new RouteAnswered(2), run.Result);
        Assert.Equal(0.111m, run.SpentUsd);
    }

    [Fact]
    public void Request_limits_narrow_the_policy_and_stop_at_the_current_answer()
    {
        var strict = new CascadeRun(Plan(new RequestLimits(MinConfidence: 0.95)));
        strict.NextStage(0);
        Assert.Equal(StageReason.BelowMinConfidence, strict.Record(Answer(0.9), 0, 0).Reason);

        // Next stage would cost 1 USD/M x (100 + 20) tokens = 0.00012; the budget has 0.0001 left.
        var budget = new CascadeRun(Plan(new RequestLimits(MaxCostUsd: 0.0002)));
        budget.NextStage(0);
        var stopped = budget.Record(Answer(0.5), 0.0001m, 0);
        Assert.Equal((PolicyDecision.Stop, StageReason.BudgetExhausted), (stopped.Decision, stopped.Reason));
        Assert.Equal(new RouteAnswered(0), budget.Result);

        var slow = new CascadeRun(Plan(new RequestLimits(MaxLatencyMs: 1000)));
        Assert.Equal(TimeSpan.FromMilliseconds(1000), slow.NextStage(0)!.Deadline);
        Assert.Equal(StageReason.LatencyExhausted, slow.Record(Answer(0.5), 0, 1200).Reason);
    }

    [Fact]
    public void The_latency_budget_shortens_each_deadline_and_when_spent_returns_the_paid_answer_or_times_out()
    {
        var run = new CascadeRun(Plan(new RequestLimits(MaxLatencyMs: 1000)));
        run.NextStage(0);
        run.Record(new StageFailed(StageReason.StageFailed), 0, 300);
        Assert.Equal(TimeSpan.FromMilliseconds(700), run.NextStage(300)!.Deadline);
        run.Record(Answer(0.4), 0.01m, 900);
        Assert.Null(run.NextStage(1000));
        Assert.Equal(new RouteAnswered(1), run.Result);
        Assert.Equal(StageReason.FallbackAfterFailure, run.Records[1].Reason);

        var nothing = new CascadeRun(Plan(new RequestLimits(MaxLatencyMs: 1000)));
        nothing.NextStage(0);
        nothing.Record(new StageFailed(StageReason.StageFailed, TimedOut: true), 0, 1000);
        Assert.Null(nothing.NextStage(1000));
        Assert.Equal(new RouteFailed(RouteFailure.TimedOut), nothing.Result);
    }

    [Fact]
    public void A_failed_or_skipped_stage_fails_over_and_when_all_fail_the_failures_decide_the_error()
    {
        var run = new CascadeRun(Plan());
        run.NextStage(0);
        var circuit = run.Record(new StageFailed(StageReason.CircuitOpen), 0, 0);
        run.NextStage(0);
        run.Record(new StageFailed(StageReason.StageFailed), 0, 0);
        run.NextStage(0);
        var last = run.Record(new StageFailed(StageReason.StageFailed), 0, 0);

        Assert.Equal((PolicyDecision.Escalate, StageReason.CircuitOpen), (circuit.Decision, circuit.Reason));
        Assert.Equal(PolicyDecision.Stop, last.Decision);
        Assert.Null(run.NextStage(0));
        Assert.Equal(new RouteFailed(RouteFailure.AllStagesFailed), run.Result);

        Assert.Equal(RouteFailure.ContextLengthExceeded, FailEveryStage(new StageFailed(StageReason.ContextLengthExceeded)));
        Assert.Equal(RouteFailure.TimedOut, FailEveryStage(new StageFailed(StageReason.StageFailed, TimedOut: true)));
    }

    [Fact]
    public void When_later_stages_fail_the_most_confident_paid_answer_is_returned()
    {
        var run = EscalatedTwice(0.5, 0.55);
        run.Record(new StageFailed(StageReason.StageFailed), 0, 0);
        Assert.Null(run.NextStage(0));

        Assert.Equal(new RouteAnswered(1), run.Result);
        Assert.Equal((PolicyDecision.Accept, StageReason.FallbackAfterFailure, false), (run.Records[1].Decision, run.Records[1].Reason, run.Records[1].Discarded));
        Assert.True(run.Records[0].Discarded);
    }

    [Fact]
    public void A_live_stream_that_breaks_cannot_fall_back_and_a_client_that_leaves_ends_the_route()
    {
        var stream = EscalatedTwice(0.5, 0.5);
        stream.Record(new StageFailed(StageReason.StageFailed, OutputStarted: true), 0.05m, 0);
        Assert.Equal(new RouteFailed(RouteFailure.StreamInterrupted), stream.Result);
        Assert.Null(stream.NextStage(0));

        var gone = new CascadeRun(Plan());
        gone.NextStage(0);
        gone.Record(Answer(0.5), 0.001m, 0);
        gone.NextStage(0);
        var cut = gone.Record(new ClientGone(), 0, 0);
        Assert.Equal((PolicyDecision.Stop, StageReason.ClientDisconnected), (cut.Decision, cut.Reason));
        Assert.Equal(new RouteFailed(RouteFailure.ClientDisconnected), gone.Result);
    }

    [Fact]
    public void An_aborted_draft_is_paid_escalated_past_and_never_returned()
    {
        var run = new CascadeRun(Plan());
        run.NextStage(0);
        var aborted = run.Record(new StageAborted(0.4, 12), 0.0005m, 50);
        run.NextStage(50);
        run.Record(new StageFailed(StageReason.StageFailed), 0, 60);
        run.NextStage(60);
        run.Record(new StageFailed(StageReason.StageFailed), 0, 70);
        run.NextStage(70);

        Assert.Equal((PolicyDecision.Escalate, StageReason.LowGroupConfidence, true), (aborted.Decision, aborted.Reason, aborted.Discarded));
        Assert.Equal(new RouteFailed(RouteFailure.AllStagesFailed), run.Result);
        Assert.Equal(0.0005m, run.SpentUsd);
    }

    [Fact]
    public void Without_a_policy_every_stage_escalates_so_the_top_models_accuracy_is_kept()
    {
        var run = new CascadeRun(Plan(policyUnavailable: true));
        Assert.Equal("unknown", run.Plan.PolicyVersion);
        Assert.Equal(["small", "medium", "large"], run.Plan.Chain);
        run.NextStage(0);
        Assert.Equal(StageReason.PolicyUnavailable, run.Record(Answer(0.99), 0, 0).Reason);
        run.NextStage(0);
        run.Record(Answer(0.99), 0, 0);
        run.NextStage(0);
        Assert.Equal(StageReason.LastStage, run.Record(Answer(0.1), 0, 0).Reason);
    }

    [Fact]
    public void Pre_call_runs_the_predicted_model_alone_hybrid_starts_there_and_direct_accepts_its_model()
    {
        var preCall = Plan(mode: RoutingMode.PreCall, start: 1);
        Assert.Equal(["medium"], preCall.Stages.Select(s => s.Model));
        var run = new CascadeRun(preCall);
        Assert.True(run.NextStage(0)!.IsLast);
        Assert.Equal(StageReason.LastStage, run.Record(Answer(0.2), 0, 0).Reason);

        Assert.Equal(["medium", "large"], Plan(mode: RoutingMode.Hybrid, start: 1).Stages.Select(s => s.Model));
        Assert.Equal(["small", "medium", "large"], Plan(mode: RoutingMode.Hybrid, start: null).Stages.Select(s => s.Model));
        Assert.Equal(["large"], Plan(mode: RoutingMode.PreCall, start: 7).Stages.Select(s => s.Model));
        Assert.Equal(1, Plan(mode: RoutingMode.Hybrid, start: 1).Stages[0].ChainIndex);

        var direct = new CascadeRun(CascadePlanner.Direct(Portfolio[0], Portfolio, new RequestLimits(), StageTimeout));
        Assert.Equal(("direct", "-", RoutingMode.Direct, "large"), (direct.Plan.Policy, direct.Plan.PolicyVersion, direct.Plan.Mode, direct.Plan.TopModel.Model));
        direct.NextStage(0);
        Assert.Equal(StageReason.DirectModel, direct.Record(Answer(0.01), 0, 0).Reason);
    }

    [Fact]
    public void A_policy_routing_over_models_this_portfolio_lacks_is_named()
    {
        var foreign = new PolicyArtifact(["small", "huge"], [0.5], "calibrated", null, "test", null, null, null);
        Assert.Equal(["huge"], CascadePlanner.UnknownModels(foreign, Portfolio));
        Assert.Throws<ArgumentException>(() => Plan(policy: new PinnedPolicy("x", "1", foreign)));
    }

    [Fact]
    public void Recording_after_the_route_ended_is_a_bug_not_a_decision()
    {
        var run = new CascadeRun(Plan());
        run.NextStage(0);
        run.Record(Answer(0.9), 0, 0);
        Assert.Throws<InvalidOperationException>(() => run.Record(Answer(0.9), 0, 0));
    }

    [Fact]
    public void Decisions_reasons_and_modes_keep_their_wire_names_in_json()
    {
        Assert.Equal("\"confidence_above_threshold\"", JsonSerializer.Serialize(StageReason.ConfidenceAboveThreshold));
        Assert.Equal("\"pre-call\"", JsonSerializer.Serialize(RoutingMode.PreCall));
        Assert.Equal("\"escalate\"", JsonSerializer.Serialize(PolicyDecision.Escalate));
        Assert.Equal("low_group_confidence", StageReason.LowGroupConfidence.Wire());
        foreach (var reason in Enum.GetValues<StageReason>())
        {
            Assert.True(WireNames.TryParse<StageReason>(reason.Wire(), out var parsed));
            Assert.Equal(reason, parsed);
            Assert.Equal($"\"{reason.Wire()}\"", JsonSerializer.Serialize(reason, new JsonSerializerOptions { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) } }));
        }
    }

    private static CascadeRun EscalatedTwice(double first, double second)
    {
        var run = new CascadeRun(Plan());
        run.NextStage(0);
        run.Record(Answer(first), 0.001m, 0);
        run.NextStage(0);
        run.Record(Answer(second), 0.01m, 0);
        run.NextStage(0);
        return run;
    }

    private static RouteFailure FailEveryStage(StageFailed failure)
    {
        var run = new CascadeRun(Plan());
        while (run.NextStage(0) is not null)
        {
            run.Record(failure, 0, 0);
        }

        return ((RouteFailed)run.Result!).Failure;
    }
}
