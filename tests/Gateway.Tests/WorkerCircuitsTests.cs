using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Router.Gateway.Routing;
using Xunit;

namespace Router.Gateway.Tests;

public sealed class WorkerCircuitsTests
{
    private const string Worker = "worker-llama3-1-8b";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-26T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly WorkerCircuits _circuits;

    public WorkerCircuitsTests()
    {
        var options = new RoutingOptions { CircuitFailureThreshold = 3, CircuitBreakDuration = TimeSpan.FromSeconds(30), StageTimeout = TimeSpan.FromSeconds(10) };
        _circuits = new WorkerCircuits(new FixedOptions<RoutingOptions>(options), _time, NullLogger<WorkerCircuits>.Instance);
    }

    [Fact]
    public void A_worker_is_skipped_only_after_the_threshold_of_consecutive_failures()
    {
        _circuits.Failed(Worker, "DeadlineExceeded");
        _circuits.Failed(Worker, "DeadlineExceeded");
        Assert.Null(_circuits.Refusal(Worker));

        _circuits.Failed(Worker, "Unavailable: connection refused");

        var refusal = _circuits.Refusal(Worker);
        Assert.NotNull(refusal);
        Assert.Contains("3 consecutive failures", refusal, StringComparison.Ordinal);
        Assert.Contains("connection refused", refusal, StringComparison.Ordinal);
        Assert.Null(_circuits.Refusal("worker-gpt-4o"));
    }

    [Fact]
    public void A_success_resets_the_count()
    {
        _circuits.Failed(Worker, "Unavailable");
        _circuits.Failed(Worker, "Unavailable");
        _circuits.Succeeded(Worker);
        _circuits.Failed(Worker, "Unavailable");
        _circuits.Failed(Worker, "Unavailable");

        Assert.Null(_circuits.Refusal(Worker));
    }

    [Fact]
    public void After_the_break_one_trial_goes_through_and_its_success_closes_the_circuit()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.NotNull(_circuits.Refusal(Worker));

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(_circuits.Refusal(Worker));
        Assert.Contains("half-open", _circuits.Refusal(Worker), StringComparison.Ordinal);

        _circuits.Succeeded(Worker);
        Assert.Null(_circuits.Refusal(Worker));
        Assert.Null(_circuits.Refusal(Worker));
    }

    [Fact]
    public void A_failed_trial_opens_the_circuit_for_another_break()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(_circuits.Refusal(Worker));

        _circuits.Failed(Worker, "DeadlineExceeded");

        Assert.Contains("4 consecutive failures", _circuits.Refusal(Worker), StringComparison.Ordinal);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.NotNull(_circuits.Refusal(Worker));
    }

    [Fact]
    public void A_trial_that_never_reports_back_is_retried_after_a_stage_timeout()
    {
        Open();
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(_circuits.Refusal(Worker));

        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.NotNull(_circuits.Refusal(Worker));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(_circuits.Refusal(Worker));
    }

    [Theory]
    [InlineData(StatusCode.Unavailable, true)]
    [InlineData(StatusCode.DeadlineExceeded, true)]
    [InlineData(StatusCode.Internal, true)]
    [InlineData(StatusCode.InvalidArgument, false)]
    [InlineData(StatusCode.ResourceExhausted, false)]
    [InlineData(StatusCode.Cancelled, false)]
    public void Only_faults_of_the_worker_count(StatusCode status, bool counts) =>
        Assert.Equal(counts, WorkerCircuits.IsWorkerFault(status));

    private void Open()
    {
        for (var i = 0; i < 3; i++)
        {
            _circuits.Failed(Worker, "DeadlineExceeded");
        }

        Assert.NotNull(_circuits.Refusal(Worker));
    }
}
