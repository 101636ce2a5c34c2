namespace Router.Ledger.Requests;

/// <summary>
/// Requests, spend and counterfactual spend per UTC day, team, policy and final model, kept up to
/// date in the same transaction that writes the requests: month-to-date dashboards read a few
/// hundred rows instead of every request.
/// </summary>
public sealed class DailyRollup
{
    public DateOnly Day { get; set; }

    /// <summary>The team, or <see cref="Guid.Empty"/> for requests without one (keys are never null).</summary>
    public Guid TeamId { get; set; }

    public required string Policy { get; set; }

    /// <summary>The model that answered, or "" for failed requests.</summary>
    public required string FinalModel { get; set; }

    public long Requests { get; set; }

    public long Failed { get; set; }

    public decimal CostUsd { get; set; }

    public decimal CounterfactualCostUsd { get; set; }

    public long Attempts { get; set; }
}
