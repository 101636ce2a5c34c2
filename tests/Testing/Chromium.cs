using Router.LocalServers;

namespace Router.Testing;

/// <summary>Debian's Chromium for the browser tests (Playwright cannot download its own browser here), installed with apt when missing.</summary>
public static class Chromium
{
    /// <summary>Flags for headless Chromium as root in a sandbox without a GPU or a network.</summary>
    public static readonly string[] Arguments =
    [
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    public static Task<string> RequireAsync(Action<string> log) =>
        ServerPackages.RequireAsync(
            "Chromium (for the browser tests)",
            "chromium",
            () => Environment.GetEnvironmentVariable("ROUTER_CHROMIUM") is { Length: > 0 } configured ? configured : ServerPackages.FindOnPath("chromium"),
            "ROUTER_CHROMIUM (the path of a Chromium binary)",
            log,
            CancellationToken.None);
}
