namespace Router.AppHost;

/// <summary>How every service of the router listens: an HTTP/1.1 endpoint for the REST API and health, and an HTTP/2-only one for gRPC.</summary>
internal static class ServiceEndpoints
{
    public const string Http = "http";
    public const string Grpc = "grpc";

    /// <summary>
    /// Declares the endpoints and binds Kestrel to them by name: plain-text gRPC needs an HTTP/2-only
    /// endpoint (with HTTP/1.1 allowed too, Kestrel serves HTTP/1.1 to gRPC clients), which a single
    /// ASPNETCORE_URLS cannot express. The service counts as healthy once its /health answers.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithServiceEndpoints(this IResourceBuilder<ProjectResource> project, bool grpc, int? httpPort = null)
    {
        project.WithHttpEndpoint(port: httpPort, name: Http);
        if (grpc)
        {
            project.WithEndpoint(Grpc, endpoint =>
            {
                endpoint.UriScheme = "http";
                endpoint.Transport = "http2";
            });
        }

        // Healthy means serving: the orchestrator holds dependants (and the tests) until /health
        // answers 200 (Degraded included: a service that runs without a dependency still serves).
        project.WithHttpHealthCheck("/health", endpointName: Http);

        return project.WithEnvironment(context =>
        {
            foreach (var name in grpc ? new[] { Http, Grpc } : [Http])
            {
                var endpoint = project.GetEndpoint(name);
                context.EnvironmentVariables[$"Kestrel__Endpoints__{name}__Url"] =
                    ReferenceExpression.Create($"http://127.0.0.1:{endpoint.Property(EndpointProperty.TargetPort)}");
                context.EnvironmentVariables[$"Kestrel__Endpoints__{name}__Protocols"] = name == Grpc ? "Http2" : "Http1";
            }
        });
    }
}
