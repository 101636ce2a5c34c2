using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Router.Gateway.Access;
using Router.Gateway.Routing;
using Router.Ledger;
using Router.Ledger.Teams;

namespace Router.Gateway.Apis;

/// <summary>Teams and their API keys, for the platform team; guarded by Access:AdminKey.</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/admin").WithTags("Admin").AddEndpointFilter(RequireAdminKeyAsync).AddEndpointFilter(LedgerUnavailableAsync);
        api.MapGet("/teams", ListTeamsAsync);
        api.MapPost("/teams", CreateTeamAsync);
        api.MapPost("/teams/{team}/keys", CreateKeyAsync);
        api.MapDelete("/keys/{id}", RevokeKeyAsync);
        return app;
    }

    /// <summary>A budget above this is a typing mistake, not a budget (and would overflow the ledger's numeric(18,6)).</summary>
    public const decimal MaxMonthlyBudgetUsd = 1_000_000_000m;

    public sealed record CreateTeamRequest(string? Name, decimal? MonthlyBudgetUsd, int? RequestsPerMinute)
    {
        [JsonExtensionData]
        public Dictionary<string, JsonElement>? OtherFields { get; init; }
    }

    public sealed record CreateKeyRequest(string? Name)
    {
        [JsonExtensionData]
        public Dictionary<string, JsonElement>? OtherFields { get; init; }
    }

    public sealed record TeamView(Guid Id, string Name, decimal? MonthlyBudgetUsd, int? RequestsPerMinute, IReadOnlyList<KeyView> Keys);

    public sealed record KeyView(Guid Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

    /// <summary>The only time a key is shown: the ledger keeps its hash.</summary>
    public sealed record CreatedKey(Guid Id, string Team, string Name, string Prefix, string Key);

    private static async ValueTask<object?> RequireAdminKeyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var admin = context.HttpContext.RequestServices.GetRequiredService<IOptionsMonitor<AccessOptions>>().CurrentValue.AdminKey;
        if (string.IsNullOrEmpty(admin))
        {
            return OpenAiError.Result(StatusCodes.Status404NotFound, "The admin API is disabled: set Access__AdminKey to enable it.", "invalid_request_error", null, "admin_disabled");
        }

        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : string.Empty;
        if (!ApiKeys.SecretEquals(admin, presented))
        {
            return OpenAiError.Result(StatusCodes.Status401Unauthorized, "The admin API needs 'Authorization: Bearer <Access:AdminKey>'.", "invalid_request_error", null, "invalid_admin_key");
        }

        return await next(context);
    }

    private static async ValueTask<object?> LedgerUnavailableAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (e is NpgsqlException || e.InnerException is NpgsqlException)
        {
            return ErrorResponses.LedgerUnavailable("Teams and keys cannot be read or changed");
        }
    }

    private static async Task<IResult> ListTeamsAsync(IDbContextFactory<LedgerDbContext> contexts, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var teams = await db.Teams.Include(t => t.Keys).OrderBy(t => t.Name).ToListAsync(cancellationToken);
        return Results.Ok(teams.Select(View));
    }

    private static async Task<IResult> CreateTeamAsync(HttpContext context, IDbContextFactory<LedgerDbContext> contexts, IOptions<JsonOptions> json, TimeProvider time, CancellationToken cancellationToken)
    {
        var (request, invalid) = await JsonBody.ReadAsync<CreateTeamRequest>(context, json.Value.SerializerOptions);
        if (request is null)
        {
            return invalid!;
        }

        if (JsonBody.UnknownField(request.OtherFields, "name, monthly_budget_usd and requests_per_minute") is { } unknown)
        {
            return unknown;
        }

        if (string.IsNullOrWhiteSpace(request.Name))
        {
            return OpenAiError.BadRequest("name is required.", "name");
        }

        var name = request.Name.Trim();
        if (NameRule.Label.Problem(name) is { } problem)
        {
            return OpenAiError.BadRequest($"name {problem}", "name");
        }

        if (request.MonthlyBudgetUsd is < 0 or > MaxMonthlyBudgetUsd)
        {
            return OpenAiError.BadRequest($"monthly_budget_usd must be between 0 and {MaxMonthlyBudgetUsd:0}; got {request.MonthlyBudgetUsd}.", "monthly_budget_usd");
        }

        if (request.RequestsPerMinute is <= 0)
        {
            return OpenAiError.BadRequest($"requests_per_minute must be positive; got {request.RequestsPerMinute}.", "requests_per_minute");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var team = new Team
        {
            Id = Guid.CreateVersion7(),
            Name = name,
            MonthlyBudgetUsd = request.MonthlyBudgetUsd,
            RequestsPerMinute = request.RequestsPerMinute,
            CreatedAt = time.GetUtcNow(),
        };
        db.Teams.Add(team);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            return OpenAiError.Result(StatusCodes.Status409Conflict, $"A team named {OpenAiError.Shown(team.Name)} already exists.", "invalid_request_error", "name", "team_exists");
        }

        return Results.Created($"/admin/teams/{team.Name}", View(team));
    }

    private static async Task<IResult> CreateKeyAsync(string team, HttpContext context, IDbContextFactory<LedgerDbContext> contexts, IOptions<JsonOptions> json, TimeProvider time, CancellationToken cancellationToken)
    {
        if (NameRule.Label.Problem(team) is { } teamProblem)
        {
            return OpenAiError.BadRequest($"team (in the path) is not a team name: it {teamProblem}", "team");
        }

        // No body is a key with the default name.
        var (request, invalid) = await JsonBody.ReadAsync(context, json.Value.SerializerOptions, () => new CreateKeyRequest(null));
        if (request is null)
        {
            return invalid!;
        }

        if (JsonBody.UnknownField(request.OtherFields, "name") is { } unknown)
        {
            return unknown;
        }

        var name = string.IsNullOrWhiteSpace(request.Name) ? "default" : request.Name.Trim();
        if (NameRule.Label.Problem(name) is { } nameProblem)
        {
            return OpenAiError.BadRequest($"name {nameProblem}", "name");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var owner = await db.Teams.SingleOrDefaultAsync(t => t.Name == team, cancellationToken);
        if (owner is null)
        {
            return OpenAiError.NotFound($"No team named {OpenAiError.Shown(team)}.", "team", "team_not_found");
        }

        var key = ApiKeys.NewKey();
        var stored = new ApiKey
        {
            Id = Guid.CreateVersion7(),
            TeamId = owner.Id,
            Name = name,
            Prefix = ApiKeys.DisplayedPrefix(key),
            Hash = ApiKeys.Hash(key),
            CreatedAt = time.GetUtcNow(),
        };
        db.ApiKeys.Add(stored);
        await db.SaveChangesAsync(cancellationToken);
        return Results.Created($"/admin/keys/{stored.Id}", new CreatedKey(stored.Id, owner.Name, stored.Name, stored.Prefix, key));
    }

    private static async Task<IResult> RevokeKeyAsync(string id, IDbContextFactory<LedgerDbContext> contexts, TeamAccess access, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var keyId))
        {
            return OpenAiError.BadRequest($"id (in the path) must be an API key's id, a UUID as POST /admin/teams/{{team}}/keys returned it; got {OpenAiError.Shown(id)}.", "id");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var revoked = await db.ApiKeys
            .Where(k => k.Id == keyId && k.RevokedAt == null)
            .ExecuteUpdateAsync(k => k.SetProperty(x => x.RevokedAt, time.GetUtcNow()), cancellationToken);
        access.Invalidate();
        return revoked == 1 || await db.ApiKeys.AnyAsync(k => k.Id == keyId, cancellationToken)
            ? Results.NoContent()
            : OpenAiError.NotFound($"No API key with id {keyId}.", "id", "key_not_found");
    }

    private static TeamView View(Team team) => new(
        team.Id,
        team.Name,
        team.MonthlyBudgetUsd,
        team.RequestsPerMinute,
        [.. team.Keys.OrderBy(k => k.CreatedAt).Select(k => new KeyView(k.Id, k.Name, k.Prefix, k.CreatedAt, k.RevokedAt))]);
}
