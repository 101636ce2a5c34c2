using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Router.Gateway.Routing;

/// <summary>
/// A circuit breaker per worker: after Routing:CircuitFailureThreshold consecutive failures the
/// worker is skipped for Routing:CircuitBreakDuration, so a hung worker costs each request an
/// instant failover instead of a whole stage timeout. After the break one trial request goes
/// through (half-open); its success closes the circuit, its failure opens it again. A trial that
/// never reports back (its caller went away) is retried after a stage timeout.
/// </summary>
public sealed partial class WorkerCircuits(IOptionsMonitor<RoutingOptions> routing, TimeProvider time, ILogger<WorkerCircuits> logger)
{
    private readonly ConcurrentDictionary<string, Circuit> _circuits = new(StringComparer.Ordinal);

    /// <summary>Failures that say the worker, not the request, is at fault.</summary>
    public static bool IsWorkerFault(StatusCode status) =>
        status is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted or StatusCode.DataLoss;

    /// <summary>Null when a call to the worker may go ahead; otherwise why it is skipped.</summary>
    public string? Refusal(string worker)
    {
        var circuit = _circuits.GetOrAdd(worker, _ => new Circuit());
        var now = time.GetUtcNow();
        lock (circuit)
        {
            if (circuit.OpenUntil is not { } openUntil)
            {
                return null;
            }

            if (now < openUntil)
            {
                return $"circuit open after {circuit.ConsecutiveFailures} consecutive failures (last: {circuit.LastError}); next trial after {openUntil:O}";
            }

            if (circuit.TrialStarted is { } trial && now - trial < routing.CurrentValue.StageTimeout)
            {
                return $"circuit half-open after {circuit.ConsecutiveFailures} consecutive failures: a trial request is in flight";
            }

            circuit.TrialStarted = now;
            return null;
        }
    }

    public void Succeeded(string worker)
    {
        if (!_circuits.TryGetValue(worker, out var circuit))
        {
            return;
        }

        lock (circuit)
        {
            if (circuit.OpenUntil is not null)
            {
                LogClosed(logger, worker);
            }

            (circuit.ConsecutiveFailures, circuit.OpenUntil, circuit.TrialStarted, circuit.LastError) = (0, null, null, null);
        }
    }

    public void Failed(string worker, string error)
    {
        var circuit = _circuits.GetOrAdd(worker, _ => new Circuit());
        var options = routing.CurrentValue;
        lock (circuit)
        {
            circuit.ConsecutiveFailures++;
            circuit.LastError = error;
            circuit.TrialStarted = null;
            if (circuit.ConsecutiveFailures >= options.CircuitFailureThreshold)
            {
                circuit.OpenUntil = time.GetUtcNow() + options.CircuitBreakDuration;
                LogOpened(logger, worker, circuit.ConsecutiveFailures, options.CircuitBreakDuration, error);
            }
        }
    }

    /// <summary>Every worker's circuit as it stands: open while the worker is skipped.</summary>
    public IEnumerable<(string Worker, bool Open)> States()
    {
        var now = time.GetUtcNow();
        foreach (var (worker, circuit) in _circuits)
        {
            bool open;
            lock (circuit)
            {
                open = circuit.OpenUntil is { } until && now < until;
            }

            yield return (worker, open);
        }
    }

    private sealed class Circuit
    {
        public int ConsecutiveFailures { get; set; }

        public DateTimeOffset? OpenUntil { get; set; }

        public DateTimeOffset? TrialStarted { get; set; }

        public string? LastError { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Circuit of {Worker} opened after {Failures} consecutive failures; skipping it for {Break} (last: {Error})")]
    private static partial void LogOpened(ILogger logger, string worker, int failures, TimeSpan @break, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Circuit of {Worker} closed: a trial request succeeded")]
    private static partial void LogClosed(ILogger logger, string worker);
}
