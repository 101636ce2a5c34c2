namespace Router.Ledger.Recording;

/// <summary>
/// Names the sub-folder of <c>Ledger:Directory</c> this process journals in. Each Gateway instance
/// needs its own: <c>Ledger:Instance</c> if set, else the Container Apps replica name, else the host
/// name (one per container, and one per machine for local runs).
/// </summary>
public static class JournalInstance
{
    public const string Setting = "Ledger:Instance";
    public const string ReplicaVariable = "CONTAINER_APP_REPLICA_NAME";
    private const int MaxLength = 128;

    /// <summary>The instance name, or an <see cref="ArgumentException"/> naming where a bad one came from.</summary>
    public static string Resolve(string? configured, string? replicaName, string hostName)
    {
        var (name, source) = !string.IsNullOrWhiteSpace(configured) ? (configured, Setting)
            : !string.IsNullOrWhiteSpace(replicaName) ? (replicaName, $"the {ReplicaVariable} variable")
            : (hostName, "the host name");
        if (!IsFolderName(name))
        {
            throw new ArgumentException(
                $"{Setting}: '{name}' (from {source}) cannot name a journal folder; use 1 to {MaxLength} letters, digits, '.', '-' or '_', not starting with '.'.");
        }

        return name;
    }

    /// <summary>The instance of this process, from its environment.</summary>
    public static string Resolve(string? configured) =>
        Resolve(configured, Environment.GetEnvironmentVariable(ReplicaVariable), Environment.MachineName);

    private static bool IsFolderName(string name) =>
        name.Length is > 0 and <= MaxLength
        && name[0] != '.'
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');
}
