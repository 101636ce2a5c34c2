namespace Router.Ledger.Teams;

/// <summary>A product team calling the router: owns API keys, a rate limit and a monthly budget.</summary>
public sealed class Team
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary>Spend the team may not exceed in a calendar month (UTC); null = unlimited.</summary>
    public decimal? MonthlyBudgetUsd { get; set; }

    /// <summary>Requests per minute across the team's keys; null = unlimited.</summary>
    public int? RequestsPerMinute { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public List<ApiKey> Keys { get; set; } = [];
}

/// <summary>
/// An API key. Only its SHA-256 hash is stored: the key itself is shown once, at creation. The
/// prefix identifies the key in listings and logs without revealing it.
/// </summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }

    public Guid TeamId { get; set; }

    public Team? Team { get; set; }

    public required string Name { get; set; }

    public required string Prefix { get; set; }

    public required string Hash { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}
