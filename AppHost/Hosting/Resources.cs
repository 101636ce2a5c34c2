using Projects;

namespace Router.AppHost.Hosting;

/// <summary>Something the AppHost runs or connects to, started after the resources it waits for.</summary>
public abstract class Resource(string name)
{
    public string Name { get; } = name;

    public List<Resource> WaitsFor { get; } = [];
}

/// <summary>A resource services reach through ConnectionStrings__&lt;name&gt;.</summary>
public interface IResourceWithConnectionString
{
    string Name { get; }

    /// <summary>Set once the resource runs (or was given from outside).</summary>
    string? ConnectionString { get; }
}

public sealed class RedisResource(string name) : Resource(name), IResourceWithConnectionString
{
    public string? ConnectionString { get; internal set; }
}

public sealed class PostgresServerResource(string name) : Resource(name)
{
    public List<PostgresDatabaseResource> Databases { get; } = [];

    public PostgresDatabaseResource AddDatabase(string name, string? databaseName = null)
    {
        var database = new PostgresDatabaseResource(name, databaseName ?? name, this);
        database.WaitsFor.Add(this);
        Databases.Add(database);
        return database;
    }
}

public sealed class PostgresDatabaseResource(string name, string databaseName, PostgresServerResource server)
    : Resource(name), IResourceWithConnectionString
{
    public string DatabaseName { get; } = databaseName;

    public PostgresServerResource Server { get; } = server;

    public string? ConnectionString { get; internal set; }
}

/// <summary>A named Kestrel endpoint of a service; gRPC endpoints speak HTTP/2 only (plain-text h2c).</summary>
public sealed class EndpointAnnotation(string name, bool http2Only)
{
    public string Name { get; } = name;

    public bool Http2Only { get; } = http2Only;

    public int Port { get; internal set; }

    public string Url => $"http://127.0.0.1:{Port}";
}

public sealed class ProjectResource(string name, IProjectMetadata project) : Resource(name)
{
    public IProjectMetadata Project { get; } = project;

    public List<EndpointAnnotation> Endpoints { get; } = [];

    public List<IResourceWithConnectionString> ConnectionReferences { get; } = [];

    public List<ProjectResource> ServiceReferences { get; } = [];

    public Dictionary<string, string> Environment { get; } = [];

    /// <summary>The endpoint /health and /alive are served on: the first HTTP/1.1-capable one.</summary>
    public EndpointAnnotation? HealthEndpoint => Endpoints.FirstOrDefault(e => !e.Http2Only);
}
