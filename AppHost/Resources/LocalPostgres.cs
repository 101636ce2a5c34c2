using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Router.LocalServers;

namespace Router.AppHost.Resources;

/// <summary>
/// PostgreSQL run from the machine's server binaries (no container runtime is needed), with a data
/// folder of this run made by initdb before the first start, bound to loopback with password
/// authentication, as the 'postgres' user when the AppHost runs as root.
/// </summary>
public sealed class LocalPostgresResource(string name, string command, string dataDirectory, string password)
    : ExecutableResource(name, command, System.IO.Path.GetDirectoryName(dataDirectory)!), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    private EndpointReference? _endpoint;

    public string DataDirectory { get; } = dataDirectory;

    public string Password { get; } = password;

    public EndpointReference Endpoint => _endpoint ??= new EndpointReference(this, EndpointName);

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={Endpoint.Property(EndpointProperty.Host)};Port={Endpoint.Property(EndpointProperty.Port)};Username={PostgresInstallation.SuperUser};Password={Password}");

    internal List<LocalPostgresDatabaseResource> Databases { get; } = [];
}

/// <summary>A database of a <see cref="LocalPostgresResource"/>, created when the server is first ready.</summary>
public sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresResource>, IResourceWithConnectionString, IResourceWithWaitSupport
{
    public LocalPostgresResource Parent { get; } = parent;

    public string DatabaseName { get; } = databaseName;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={DatabaseName}");
}

public static class LocalPostgresExtensions
{
    /// <summary>Adds a private PostgreSQL server run from <paramref name="binDirectory"/> with its data under <paramref name="run"/>.</summary>
    public static IResourceBuilder<LocalPostgresResource> AddLocalPostgres(
        this IDistributedApplicationBuilder builder, string name, string binDirectory, RunFolder run)
    {
        var dataDirectory = System.IO.Path.Combine(PostgresInstallation.PrepareStateDirectory(run.Path), name + "-data");
        var server = System.IO.Path.Combine(binDirectory, "postgres");
        var (command, prefix) = PostgresInstallation.AsServerUser(server, []);
        var resource = new LocalPostgresResource(name, command, dataDirectory, PostgresInstallation.NewPassword());

        var healthCheck = $"{name}-select-1";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheck, _ => new PostgresSelectOneCheck(resource), HealthStatus.Unhealthy, tags: null));

        // initdb once per run folder, before the first start; a restart from the dashboard keeps the data.
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(resource, async (started, cancellationToken) =>
        {
            if (!Directory.Exists(resource.DataDirectory))
            {
                started.Services.ResourceLog(resource)($"initdb into {resource.DataDirectory}");
                await PostgresInstallation.InitializeDataDirectoryAsync(binDirectory, resource.DataDirectory, resource.Password, cancellationToken);
            }
        });

        // Databases exist once the server is ready; their state is published here because the
        // orchestrator forwards state only to the children of containers.
        builder.Eventing.Subscribe<ResourceReadyEvent>(resource, async (ready, cancellationToken) =>
        {
            var notifications = ready.Services.GetRequiredService<ResourceNotificationService>();
            var connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken);
            await using var connection = new NpgsqlConnection($"{connectionString};Database=postgres;Pooling=false");
            await connection.OpenAsync(cancellationToken);
            foreach (var database in resource.Databases)
            {
                await CreateDatabaseIfMissingAsync(connection, database.DatabaseName, cancellationToken);
                await notifications.PublishUpdateAsync(database, state => state with
                {
                    State = KnownResourceStates.Running,
                    StartTimeStamp = DateTime.UtcNow,
                });
            }
        });

        return builder.AddResource(resource)
            .WithEndpoint(name: LocalPostgresResource.EndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                foreach (var argument in prefix)
                {
                    context.Args.Add(argument);
                }

                context.Args.Add("-D");
                context.Args.Add(resource.DataDirectory);
                context.Args.Add("-h");
                context.Args.Add("127.0.0.1");
                context.Args.Add("-p");
                context.Args.Add(resource.Endpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("-c");
                context.Args.Add("unix_socket_directories=");
                context.Args.Add("-c");
                context.Args.Add("max_connections=200");
            })
            .WithHealthCheck(healthCheck);
    }

    public static IResourceBuilder<LocalPostgresDatabaseResource> AddDatabase(
        this IResourceBuilder<LocalPostgresResource> server, string name, string? databaseName = null)
    {
        var database = new LocalPostgresDatabaseResource(name, databaseName ?? name, server.Resource);
        server.Resource.Databases.Add(database);
        return server.ApplicationBuilder.AddResource(database)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "PostgresDatabase",
                State = KnownResourceStates.Waiting,
                Properties = [new(CustomResourceKnownProperties.Source, server.Resource.Name)],
            });
    }

    private static async Task CreateDatabaseIfMissingAsync(NpgsqlConnection connection, string database, CancellationToken cancellationToken)
    {
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private sealed class PostgresSelectOneCheck(LocalPostgresResource resource) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken);
            try
            {
                await using var connection = new NpgsqlConnection($"{connectionString};Database=postgres;Pooling=false;Timeout=2");
                await connection.OpenAsync(cancellationToken);
                await using var select = new NpgsqlCommand("SELECT 1", connection);
                await select.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (NpgsqlException e)
            {
                return HealthCheckResult.Unhealthy(e.Message);
            }
        }
    }
}
