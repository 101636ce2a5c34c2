namespace Router.AppHost.Hosting;

public sealed class DistributedApplicationBuilder
{
    private readonly List<Resource> _resources = [];

    private DistributedApplicationBuilder(string[] args) => Args = args;

    public string[] Args { get; }

    public IReadOnlyList<Resource> Resources => _resources;

    public static DistributedApplicationBuilder Create(string[] args) => new(args);

    public T AddResource<T>(T resource)
        where T : Resource
    {
        if (_resources.Any(r => string.Equals(r.Name, resource.Name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException($"A resource named '{resource.Name}' is already declared.");
        }

        _resources.Add(resource);
        return resource;
    }

    public DistributedApplication Build() => new(_resources);
}
