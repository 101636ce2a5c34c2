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
    private readonly string _environment;
    private readonly Action<IServiceCollection>? _services;
    private readonly StartUpFailureLog _startUpLog = new();

    /// <summary>A journal of this host's own: one process owns a journal directory.</summary>
    public string JournalDirectory { get; } = Path.Combine(TestState.Directory, "journals", Guid.NewGuid().ToString("N"));

    /// <param name="environment">Development (the factory's default) or Production: error bodies must be the same in both.</param>
    /// <param name="services">Replaces services of the host, for a test that needs one to fail.</param>
    public GatewayFactory(string cache, string ledger, IDictionary<string, string?>? settings = null, string environment = "Development", Action<IServiceCollection>? services = null)
    {
        _environment = environment;
        _services = services;
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = cache,
            ["ConnectionStrings:ledger"] = ledger,
            ["Ledger:Directory"] = JournalDirectory,
            [WebHostDefaults.ServerUrlsKey] = LoopbackKestrel.AnyFreePort,
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
        UseKestrel();
    }

    /// <summary>Starts the host, expecting it to fail, and returns every exception its start threw or logged.</summary>
    public string StartUpFailure() => _startUpLog.FailureOf(StartServer);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(_environment);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        _startUpLog.AddTo(builder);

        if (_services is not null)
        {
            builder.ConfigureTestServices(_services);
        }
    }
}
