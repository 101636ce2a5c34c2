using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Router.Gateway.Tests;

/// <summary>The real Gateway on real Kestrel (a loopback port), wired to the given Redis and PostgreSQL.</summary>
public sealed class GatewayFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public GatewayFactory(string cache, string ledger, IDictionary<string, string?>? settings = null)
    {
        _settings = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["ConnectionStrings:cache"] = cache,
            ["ConnectionStrings:ledger"] = ledger,
        };
        UseKestrel(0);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
