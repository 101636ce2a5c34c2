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
        var api = app.MapGroup("/admin").WithTags("Admin").AddEndpointFilter(RequireAdminKeyAsync);
        api.MapGet("/teams", ListTeamsAsync);
        api.MapPost("/teams", CreateTeamAsync);
        api.MapPost("/teams/{team}/keys", CreateKeyAsync);
        api.MapDelete("/keys/{id:guid}", RevokeKeyAsync);
        return app;
    }

    public sealed record CreateTeamRequest(string? Name, decimal? MonthlyBudgetUsd, int? RequestsPerMinute);

    public sealed record CreateKeyRequest(string? Name);

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

    private static async Task<IResult> ListTeamsAsync(IDbContextFactory<LedgerDbContext> contexts, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var teams = await db.Teams.Include(t => t.Keys).OrderBy(t => t.Name).ToListAsync(cancellationToken);
        return Results.Ok(teams.Select(View));
    }

    private static async Task<IResult> CreateTeamAsync(CreateTeamRequest request, IDbContextFactory<LedgerDbContext> contexts, TimeProvider time, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 100)
        {
            return OpenAiError.BadRequest("name is required (1-100 characters).", "name");
        }

        if (request.MonthlyBudgetUsd is < 0)
        {
            return OpenAiError.BadRequest($"monthly_budget_usd must be >= 0; got {request.MonthlyBudgetUsd}.", "monthly_budget_usd");
        }

        if (request.RequestsPerMinute is <= 0)
        {
            return OpenAiError.BadRequest($"requests_per_minute must be positive; got {request.RequestsPerMinute}.", "requests_per_minute");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var team = new Team
        {
            Id = Guid.CreateVersion7(),
            Name = request.Name.Trim(),
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
            return OpenAiError.Result(StatusCodes.Status409Conflict, $"A team named '{team.Name}' already exists.", "invalid_request_error", "name", "team_exists");
        }

        return Results.Created($"/admin/teams/{team.Name}", View(team));
    }

    private static async Task<IResult> CreateKeyAsync(string team, CreateKeyRequest request, IDbContextFactory<LedgerDbContext> contexts, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var owner = await db.Teams.SingleOrDefaultAsync(t => t.Name == team, cancellationToken);
        if (owner is null)
        {
            return OpenAiError.NotFound($"No team named '{team}'.", "team", "team_not_found");
        }

        var key = ApiKeys.NewKey();
        var stored = new ApiKey
        {
            Id = Guid.CreateVersion7(),
            TeamId = owner.Id,
            Name = string.IsNullOrWhiteSpace(request.Name) ? "default" : request.Name.Trim(),
            Prefix = ApiKeys.DisplayedPrefix(key),
            Hash = ApiKeys.Hash(key),
            CreatedAt = time.GetUtcNow(),
        };
        db.ApiKeys.Add(stored);
        await db.SaveChangesAsync(cancellationToken);
        return Results.Created($"/admin/keys/{stored.Id}", new CreatedKey(stored.Id, owner.Name, stored.Name, stored.Prefix, key));
    }

    private static async Task<IResult> RevokeKeyAsync(Guid id, IDbContextFactory<LedgerDbContext> contexts, TeamAccess access, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var revoked = await db.ApiKeys
            .Where(k => k.Id == id && k.RevokedAt == null)
            .ExecuteUpdateAsync(k => k.SetProperty(x => x.RevokedAt, time.GetUtcNow()), cancellationToken);
        access.Invalidate();
        return revoked == 1 || await db.ApiKeys.AnyAsync(k => k.Id == id, cancellationToken)
            ? Results.NoContent()
            : OpenAiError.NotFound($"No API key with id {id}.", "id", "key_not_found");
    }

    private static TeamView View(Team team) => new(
        team.Id,
        team.Name,
        team.MonthlyBudgetUsd,
        team.RequestsPerMinute,
        [.. team.Keys.OrderBy(k => k.CreatedAt).Select(k => new KeyView(k.Id, k.Name, k.Prefix, k.CreatedAt, k.RevokedAt))]);
}
