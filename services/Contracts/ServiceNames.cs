namespace Router.Contracts;

/// <summary>Service names as the AppHost and a deployment register them (`services__&lt;name&gt;__grpc__0`).</summary>
public static class ServiceNames
{
    public const string Scoring = "scoring";
    public const string Policy = "policy";
    public const string Classifier = "classifier";

    /// <summary>The worker serving a model: "worker-" and the model id with every character other than a letter or digit as '-', e.g. "worker-llama3-1-8b".</summary>
    public static string Worker(string model) =>
        "worker-" + new string([.. model.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]);

    public static bool IsWorker(string service) => service.StartsWith("worker-", StringComparison.Ordinal);

    public static string GrpcAddressKey(string service) => $"services:{service}:grpc:0";
}
