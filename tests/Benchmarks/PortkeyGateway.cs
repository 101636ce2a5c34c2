using System.Diagnostics;
using System.Text.Json.Nodes;
using Router.LocalServers;

namespace Router.Benchmarks;

/// <summary>
/// The Portkey AI gateway from npm (<c>@portkey-ai/gateway</c>), the baseline the issue compares
/// the router with: installed at run time into the benchmarks' temp folder (reused by later runs),
/// started with node on a free port, and pointed at the mock model server as an OpenAI provider
/// with a custom host (the <c>x-portkey-provider</c> and <c>x-portkey-custom-host</c> headers).
/// </summary>
public sealed class PortkeyGateway : IAsyncDisposable
{
    public const string Version = "1.15.2";

    private const string Package = "@portkey-ai/gateway";

    private PortkeyGateway(ChildProcess process, Uri address) => (Process, Address) = (process, address);

    public ChildProcess Process { get; }

    public Uri Address { get; }

    /// <summary>The headers that make Portkey forward a chat completion to an OpenAI-compatible server at <paramref name="modelServer"/>.</summary>
    public static IReadOnlyDictionary<string, string> HeadersFor(Uri modelServer) => new Dictionary<string, string>
    {
        ["x-portkey-provider"] = "openai",
        ["x-portkey-custom-host"] = new Uri(modelServer, "v1").ToString(),
        ["Authorization"] = "Bearer sk-mock",
    };

    /// <summary>The running gateway, or why it cannot run here (node or npm missing, the install failed).</summary>
    public static async Task<(PortkeyGateway? Gateway, string? Skipped)> StartAsync(string benchmarksDirectory, CancellationToken cancellationToken)
    {
        if (ServerPackages.FindOnPath("node") is null || ServerPackages.FindOnPath("npm") is null)
        {
            return (null, "node or npm is not installed on this machine");
        }

        var folder = Path.Combine(benchmarksDirectory, $"portkey-{Version}");
        var server = Path.Combine(folder, "node_modules", Package, "build", "start-server.js");
        if (!IsInstalled(folder))
        {
            Directory.CreateDirectory(folder);

            // --ignore-scripts: the package's only install script is patch-package, and the
            // published files hold no patches for it to apply.
            var (exitCode, output) = await RunAsync("npm", ["install", "--prefix", folder, "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", $"{Package}@{Version}"], cancellationToken);
            if (exitCode != 0 || !IsInstalled(folder))
            {
                return (null, $"'npm install {Package}@{Version}' failed (exit code {exitCode}): {output.Trim()}");
            }
        }

        var address = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var process = ChildProcess.Start(
            "node",
            [server, $"--port={address.Port}", "--headless"],
            new Dictionary<string, string?> { ["NODE_ENV"] = "production" },
            folder);
        await ServiceProcess.WaitUntilAnswersAsync("Portkey gateway", process, address, cancellationToken);
        return (new PortkeyGateway(process, address), null);
    }

    private static bool IsInstalled(string folder)
    {
        var manifest = Path.Combine(folder, "node_modules", Package, "package.json");
        return File.Exists(manifest) && JsonNode.Parse(File.ReadAllText(manifest))?["version"]?.GetValue<string>() == Version;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, CancellationToken cancellationToken)
    {
        using var process = System.Diagnostics.Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stderr + await stdout);
    }

    public async ValueTask DisposeAsync() => await Process.DisposeAsync();
}
