using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>What an operator sees when the deployed Gateway process is misconfigured.</summary>
public sealed class StartupFailureTests
{
    [Fact]
    public async Task The_gateway_process_exits_non_zero_naming_the_bad_portfolio_key()
    {
        var (exitCode, output) = await RunGatewayAsync(new()
        {
            ["ConnectionStrings__cache"] = "127.0.0.1:1",
            ["ConnectionStrings__ledger"] = "Host=127.0.0.1;Port=1",
            ["Portfolio__Json"] = TestPortfolio.Json.Replace("\"inputUsdPerMillionTokens\": 0.88", "\"inputUsdPerMillionTokens\": -0.5", StringComparison.Ordinal),
        });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Portfolio:Models:1:InputUsdPerMillionTokens: must be >= 0, got -0.5.", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_gateway_process_exits_non_zero_naming_a_missing_connection_string()
    {
        var (exitCode, output) = await RunGatewayAsync(new() { ["ConnectionStrings__cache"] = "127.0.0.1:1" });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("ConnectionStrings:ledger is not set", output, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output)> RunGatewayAsync(Dictionary<string, string?> environment)
    {
        // The Gateway as built beside the tests (its runtimeconfig and deps come with the reference).
        var gateway = typeof(Program).Assembly.Location;
        environment["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{FreePort.Next()}";
        await using var process = ChildProcess.Start("dotnet", [gateway], environment, Path.GetDirectoryName(gateway));
        var exitCode = await process.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        return (exitCode, string.Join(Environment.NewLine, process.Tail));
    }
}
