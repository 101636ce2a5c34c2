using Router.Contracts;

namespace Router.Gateway.Tests;

public static class GatewaySettings
{
    /// <summary>Every downstream service at a port nothing listens on: each call fails fast with Unavailable.</summary>
    public static Dictionary<string, string?> NothingListening(params KeyValuePair<string, string?>[] overrides)
    {
        var settings = new[] { ServiceNames.Policy, ServiceNames.Scoring, ServiceNames.Classifier, "worker-llama3-1-8b", "worker-llama3-1-70b", "worker-gpt-4o" }
            .ToDictionary(ServiceNames.GrpcAddressKey, _ => (string?)"http://127.0.0.1:9");
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return settings;
    }
}
