using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Router.Testing;

namespace Router.Gateway.Tests;

/// <summary>The real Gateway on real Kestrel (a loopback port), wired to the given Redis and PostgreSQL.</summary>
public sealed class GatewayFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _replaceServices;

    /// <summary>A journal of this host's own: one process owns a journal directory.</summary>
    public string JournalDirectory { get; } = Path.Combine(TestState.Directory, "journals", Guid.NewGuid().ToString("N"));

    /// <param name="replaceServices">replaces services after the Gateway registered its own (a fake disk, say)</param>
    public GatewayFactory(string cache, string ledger, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? replaceServices = null)
    {
        _replaceServices = replaceServices;
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = cache,
            ["ConnectionStrings:ledger"] = ledger,
            ["Ledger:Directory"] = JournalDirectory,
        };

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        // Tests that are not about access control call without keys, as on a developer's machine.
        _settings.TryAdd("Access:Mode", "Open");
        if (!_settings.ContainsKey("Portfolio:Json"))
        {
            foreach (var (key, value) in TestPortfolio.Settings())
            {
                _settings.TryAdd(key, value);
            }
        }
        UseKestrel(0);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_replaceServices is not null)
        {
            builder.ConfigureTestServices(_replaceServices);
        }
    }
}
