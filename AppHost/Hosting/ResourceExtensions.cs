using Projects;

namespace Router.AppHost.Hosting;

/// <summary>The Aspire-shaped vocabulary of Program.cs: Add* declares a resource, With*/WaitFor wires it.</summary>
public static class ResourceExtensions
{
    public static RedisResource AddRedis(this DistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new RedisResource(name));

    public static PostgresServerResource AddPostgres(this DistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new PostgresServerResource(name));

    public static ProjectResource AddProject<TProject>(this DistributedApplicationBuilder builder, string name)
        where TProject : IProjectMetadata, new() =>
        builder.AddResource(new ProjectResource(name, new TProject()));

    public static ProjectResource WithHttpEndpoint(this ProjectResource project, string name = "http")
    {
        project.Endpoints.Add(new EndpointAnnotation(name, http2Only: false));
        return project;
    }

    public static ProjectResource WithGrpcEndpoint(this ProjectResource project, string name = "grpc")
    {
        project.Endpoints.Add(new EndpointAnnotation(name, http2Only: true));
        return project;
    }

    /// <summary>Passes ConnectionStrings__&lt;name&gt; to the project.</summary>
    public static ProjectResource WithReference(this ProjectResource project, IResourceWithConnectionString resource)
    {
        project.ConnectionReferences.Add(resource);
        return project;
    }

    /// <summary>Passes services__&lt;name&gt;__&lt;endpoint&gt;__0 for each endpoint of the referenced project.</summary>
    public static ProjectResource WithReference(this ProjectResource project, ProjectResource service)
    {
        project.ServiceReferences.Add(service);
        return project;
    }

    public static ProjectResource WithEnvironment(this ProjectResource project, string key, string value)
    {
        project.Environment[key] = value;
        return project;
    }

    public static TResource WaitFor<TResource>(this TResource resource, Resource dependency)
        where TResource : Resource
    {
        resource.WaitsFor.Add(dependency);
        return resource;
    }

}
