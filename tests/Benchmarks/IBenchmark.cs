namespace Router.Benchmarks;

/// <summary>
/// A side-by-side measurement run from the command line. Each benchmark measures the
/// router's path and its baseline in the same process and run, and prints their ratio, so
/// the figures do not depend on the machine being quiet between two runs.
/// </summary>
public interface IBenchmark
{
    /// <summary>The command-line name, e.g. "worker" in `dotnet run --project tests/Benchmarks -- worker`.</summary>
    string Name { get; }

    string Description { get; }

    Task RunAsync(CancellationToken cancellationToken);
}
