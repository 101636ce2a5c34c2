using System.Globalization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Router.Domain.Calibration;
using Router.Gateway.Access;
using Router.Gateway.Routing;
using Router.Ledger.Calibration;
using Router.Ledger.Reports;

namespace Router.Gateway.Apis;

/// <summary>What the router saved and at what accuracy price: JSON and CSV for finance, and a page with charts.</summary>
public static class ReportsApi
{
    private static readonly Lazy<string> Page = new(() =>
    {
        using var stream = typeof(ReportsApi).Assembly.GetManifestResourceStream("Router.Gateway.Reports.report.html")
            ?? throw new InvalidOperationException("The report page is missing from the assembly.");
        return new StreamReader(stream).ReadToEnd();
    });

    public static IEndpointRouteBuilder MapReportsApi(this IEndpointRouteBuilder app)
    {
        var reports = app.MapGroup("/v1/reports").WithTags("Reports");
        reports.MapGet("/costs", CostsAsync).WithName("CostReport");
        reports.MapGet("/calibration-drift", CalibrationDriftAsync).WithName("CalibrationDriftReport");
        app.MapGet("/reports", () => Results.Content(Page.Value, "text/html; charset=utf-8")).ExcludeFromDescription();
        return app;
    }

    /// <summary>Report ranges lie within these dates: the ledger holds nothing outside them, and date arithmetic stays far from DateTimeOffset's limits.</summary>
    public static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static readonly DateTimeOffset Latest = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// A team's key sees its own team's requests only; the admin key (and a Gateway in Open mode,
    /// a developer's machine) sees every team.
    /// </summary>
    internal static async Task<IResult> CostsAsync(HttpContext context, NpgsqlDataSource ledger, TimeProvider time, IOptions<JsonOptions> json, string? from, string? to, string? groupBy, string? format, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var end = now.AddTicks(1);
        if (to is not null && !TryParse(to, out end))
        {
            return OpenAiError.BadRequest($"to must be an ISO 8601 date or time between {Earliest:yyyy-MM-dd} and {Latest:yyyy-MM-dd} (e.g. 2026-11-30 or 2026-11-30T12:00:00Z); got {OpenAiError.Shown(to)}.", "to");
        }

        var start = end.AddDays(-30);
        if (from is not null && !TryParse(from, out start))
        {
            return OpenAiError.BadRequest($"from must be an ISO 8601 date or time between {Earliest:yyyy-MM-dd} and {Latest:yyyy-MM-dd} (e.g. 2026-11-01); got {OpenAiError.Shown(from)}.", "from");
        }

        if (start >= end)
        {
            return OpenAiError.BadRequest($"from ({start:O}) must be before to ({end:O}).", "from");
        }

        if (end - start > TimeSpan.FromDays(366))
        {
            return OpenAiError.BadRequest("The range from..to may span at most 366 days.", "to");
        }

        ReportGrouping? named = groupBy is null ? ReportGrouping.Day : Enum.GetValues<ReportGrouping>().Cast<ReportGrouping?>().FirstOrDefault(g => string.Equals(g.ToString(), groupBy, StringComparison.OrdinalIgnoreCase));
        if (named is not { } grouping)
        {
            return OpenAiError.BadRequest($"groupBy must be one of day, team, model, policy; got {OpenAiError.Shown(groupBy!)}.", "groupBy");
        }

        if (format is not (null or "json" or "csv"))
        {
            return OpenAiError.BadRequest($"format must be json or csv; got {OpenAiError.Shown(format)}.", "format");
        }

        CostReport report;
        try
        {
            report = await new CostReportQuery(ledger).RunAsync(start, end, grouping, AccessMiddleware.CallerOf(context)?.TeamId, cancellationToken);
        }
        catch (NpgsqlException)
        {
            return ErrorResponses.LedgerUnavailable("Reports cannot be read");
        }

        var csv = format == "csv" || (format is null && context.Request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase));
        return csv
            ? Results.Text(CostReportQuery.ToCsv(report), "text/csv; charset=utf-8")
            : Results.Json(report, json.Value.SerializerOptions);
    }

    /// <summary>The settings a drift report was measured with.</summary>
    public sealed record DriftSettings(int WindowLabels, double WindowAgeHours, int MinimumLabels, double MaxEce, double MaxGap, double ConfidenceLevel);

    /// <summary>Every calibrator's drift window; <paramref name="Team"/> names the team whose labels were measured, null for every team.</summary>
    public sealed record CalibrationDriftReport(DateTimeOffset MeasuredAt, string? Team, DriftSettings Settings, IReadOnlyList<CalibratorDrift> Calibrators);

    /// <summary>
    /// Calibration drift measured now against the latest stored calibrators (what the Scoring
    /// services load): each window with its current version and the versions that served it, so a
    /// refit shows before and after on the same labels. A team's key sees drift computed on its own
    /// team's labels only; the admin key (and Open mode) on every team's.
    /// </summary>
    internal static async Task<IResult> CalibrationDriftAsync(HttpContext context, CalibrationDriftReader drift, TimeProvider time, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var caller = AccessMiddleware.CallerOf(context);
        var now = time.GetUtcNow();
        IReadOnlyList<CalibratorDrift> windows;
        try
        {
            windows = await drift.MeasureAsync(await drift.LatestCalibratorsAsync(cancellationToken), now, caller?.TeamId, cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException || e.InnerException is NpgsqlException)
        {
            // EF reports an unreachable server as an InvalidOperationException around the NpgsqlException.
            return ErrorResponses.LedgerUnavailable("Reports cannot be read");
        }

        var options = drift.Options;
        var settings = new DriftSettings(options.WindowLabels, options.WindowAge.TotalHours, options.MinimumLabels, options.MaxEce, options.MaxGap, options.ConfidenceLevel);
        return Results.Json(new CalibrationDriftReport(now, caller?.TeamName, settings, windows), json.Value.SerializerOptions);
    }

    private static bool TryParse(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value)
        && value >= Earliest && value <= Latest;
}
