using System.Buffers;
using System.Text;
using System.Text.Json;
using Router.Domain.Routing;
using Router.Gateway.Access;
using Router.Ledger.Recording;
using Router.Ledger.Requests;

namespace Router.Gateway.Routing;

/// <summary>Turns routing traces into ledger rows and appends them to the durable journal.</summary>
public sealed class LedgerRecorder(LedgerJournal journal, TeamAccess teams, TimeProvider time)
{
    private static readonly JsonSerializerOptions ExtraCallJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>True when the journal cannot take more rows: the Gateway then refuses work rather than lose ledger rows.</summary>
    public bool IsFull => journal.IsFull;

    /// <summary>Appends the request; completes once it is durable on local disk.</summary>
    public async Task RecordAsync(RoutingTrace trace, DateTimeOffset receivedAt, Guid? teamId, string? error)
    {
        var accepted = trace.Accepted;
        var request = new RoutedRequest
        {
            Id = trace.RequestId,
            TeamId = teamId,
            ReceivedAt = receivedAt,
            Policy = trace.Policy,
            PolicyVersion = trace.PolicyVersion,
            Mode = trace.Mode.Wire(),
            FinalModel = error is null ? trace.FinalModel : null,
            CalibratorVersion = error is null ? accepted?.CalibratorVersion : null,
            Confidence = error is null ? accepted?.Confidence : null,
            LatencyMs = trace.LatencyMs > 0 ? trace.LatencyMs : (time.GetUtcNow() - receivedAt).TotalMilliseconds,
            CostUsd = trace.CostUsd,
            CounterfactualCostUsd = trace.CounterfactualCostUsd,
            Stages = trace.Attempts.Count,
            Simulated = trace.Simulated,
            Error = error,
            Attempts = [.. trace.Attempts.Select((a, i) => new RoutingAttempt
            {
                RequestId = trace.RequestId,
                Attempt = i,
                Stage = a.Stage,
                Model = a.Model,
                PromptTokens = a.PromptTokens,
                CompletionTokens = a.CompletionTokens,
                CostUsd = a.CostUsd,
                Recipe = a.Recipe,
                ExtraPromptTokens = a.ExtraCalls.Sum(c => c.PromptTokens),
                ExtraCompletionTokens = a.ExtraCalls.Sum(c => c.CompletionTokens),
                ExtraCostUsd = a.ExtraCalls.Sum(c => c.CostUsd),
                ExtraCalls = a.ExtraCalls.Count == 0 ? "[]" : JsonSerializer.Serialize(a.ExtraCalls, ExtraCallJson),
                LatencyMs = a.LatencyMs,
                Signals = SignalsJson(a.Signals),
                Confidence = a.Confidence,
                Calibrated = a.Calibrated,
                CalibratorVersion = a.CalibratorVersion,
                Decision = a.Decision?.Wire(),
                Reason = a.Reason?.Wire(),
                Threshold = a.Threshold,
                Discarded = a.Discarded,
                Error = a.Error,
                AbortGroupConfidence = a.AbortGroupConfidence,
                AbortedAtToken = a.AbortedAtToken,
            })],
        };

        bool appended;
        try
        {
            appended = await journal.AppendAsync(request);
        }
        catch (JournalWriteException)
        {
            throw JournalUnwritable();
        }

        if (!appended)
        {
            throw JournalFull();
        }

        if (teamId is { } team)
        {
            teams.AddSpend(team, request.CostUsd);
        }
    }

    /// <summary>The finite signals as a JSON object (the column is jsonb, which has no NaN or infinity).</summary>
    private static string SignalsJson(Dictionary<string, double> signals)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in signals)
            {
                if (double.IsFinite(value))
                {
                    json.WriteNumber(name, value);
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static RoutingException JournalFull() => new(
        StatusCodes.Status503ServiceUnavailable,
        "api_error",
        null,
        "ledger_full",
        "The ledger journal is full because PostgreSQL has been unreachable; the router refuses work rather than lose ledger rows. Retry later.");

    public static RoutingException JournalUnwritable() => new(
        StatusCodes.Status503ServiceUnavailable,
        "api_error",
        null,
        "ledger_unavailable",
        "The ledger journal cannot write to disk (an I/O error, named on the Gateway's /health); the router refuses work rather than lose ledger rows. Retry later.");
}
