namespace Router.Testing;

/// <summary>
/// The recorded model outputs in ../shared/data beside the repository (read in place, never copied).
/// Set ROUTER_SHARED_DATA to use another location.
/// </summary>
public static class SharedData
{
    public static string Directory { get; } = Locate();

    public static string PathOf(string relative) => Path.Combine(Directory, relative);

    public static StreamReader Open(string relative) => new(PathOf(relative));

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("ROUTER_SHARED_DATA") is { Length: > 0 } configured)
        {
            return configured;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (System.IO.Directory.Exists(Path.Combine(candidate, "cascade-traces")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            "shared/data (the recorded model outputs) was not found above " + AppContext.BaseDirectory + "; set ROUTER_SHARED_DATA.");
    }
}
