using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Router.Gateway.Access;
using Router.Gateway.Routing;

namespace Router.Gateway.Apis;

/// <summary>Callers label answers; the labels feed calibration and policy refits.</summary>
public static class FeedbackApi
{
    private const string FindRequest = "SELECT team_id FROM requests WHERE id = @id";

    // A repeated label is a no-op; a changed one replaces the old (the latest verdict wins).
    private const string Upsert = """
        INSERT INTO feedback (request_id, correct, score, team_id, created_at, updated_at)
        VALUES (@id, @correct, @score, @team, now(), now())
        ON CONFLICT (request_id) DO UPDATE SET correct = EXCLUDED.correct, score = EXCLUDED.score, updated_at = now()
        WHERE feedback.correct IS DISTINCT FROM EXCLUDED.correct OR feedback.score IS DISTINCT FROM EXCLUDED.score
        """;

    public static IEndpointRouteBuilder MapFeedbackApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1").WithTags("Feedback").MapPost("/feedback", RecordAsync).WithName("RecordFeedback");
        return app;
    }

    public sealed record FeedbackRequest(string? RequestId, bool? Correct, double? Score)
    {
        [JsonExtensionData]
        public Dictionary<string, JsonElement>? OtherFields { get; init; }
    }

    public sealed record FeedbackRecorded(string RequestId, bool? Correct, double? Score, bool Changed);

    internal static async Task<IResult> RecordAsync(HttpContext context, NpgsqlDataSource ledger, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var (feedback, invalid) = await JsonBody.ReadAsync<FeedbackRequest>(context, json.Value.SerializerOptions);
        if (feedback is null)
        {
            return invalid!;
        }

        if (JsonBody.UnknownField(feedback.OtherFields, "request_id, correct and score") is { } unknown)
        {
            return unknown;
        }

        if (string.IsNullOrWhiteSpace(feedback.RequestId))
        {
            return OpenAiError.BadRequest("request_id is required: the id of a chat completion (chatcmpl-...) or route.", "request_id");
        }

        if (NameRule.RequestId.Problem(feedback.RequestId) is { } problem)
        {
            return OpenAiError.BadRequest($"request_id is not an id this router hands out (chatcmpl-... or route-...): it {problem}", "request_id");
        }

        if (feedback.Correct is null == feedback.Score is null)
        {
            return OpenAiError.BadRequest("Send exactly one of correct (true/false) or score (0..1).", feedback.Correct is null ? "correct" : "score");
        }

        if (feedback.Score is { } score && (!double.IsFinite(score) || score is < 0 or > 1))
        {
            return OpenAiError.BadRequest($"score must be between 0 and 1; got {score}.", "score");
        }

        var caller = AccessMiddleware.CallerOf(context);
        try
        {
            await using var find = ledger.CreateCommand(FindRequest);
            find.Parameters.AddWithValue("id", feedback.RequestId);
            var owner = await find.ExecuteScalarAsync(cancellationToken);

            // Another team's request is reported as unknown: ids must not leak across teams.
            if (owner is null || (caller is not null && owner is Guid team && team != caller.TeamId) || (caller is not null && owner is DBNull))
            {
                return OpenAiError.NotFound(
                    $"request_id {OpenAiError.Shown(feedback.RequestId)} is not in the ledger (rows land within seconds of the answer; retry shortly if it was just answered).",
                    "request_id",
                    "request_not_found");
            }

            await using var upsert = ledger.CreateCommand(Upsert);
            upsert.Parameters.AddWithValue("id", feedback.RequestId);
            upsert.Parameters.AddWithValue("correct", (object?)feedback.Correct ?? DBNull.Value);
            upsert.Parameters.AddWithValue("score", (object?)feedback.Score ?? DBNull.Value);
            upsert.Parameters.AddWithValue("team", owner);
            var changed = await upsert.ExecuteNonQueryAsync(cancellationToken) == 1;
            return Results.Ok(new FeedbackRecorded(feedback.RequestId, feedback.Correct, feedback.Score, changed));
        }
        catch (NpgsqlException)
        {
            return ErrorResponses.LedgerUnavailable("Feedback cannot be stored");
        }
    }
}
