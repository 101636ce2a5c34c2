using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Serialization;

namespace Router.Domain.Routing;

/// <summary>
/// The names the router's enums have outside the process (JSON, headers, ledger rows, metric tags):
/// each member's <see cref="JsonStringEnumMemberNameAttribute"/>, so the one spelling lives on the enum.
/// </summary>
public static class WireNames
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<object, string>> ByType = new();

    public static string Wire<T>(this T value)
        where T : struct, Enum =>
        (string)Names(typeof(T))[value];

    public static bool TryParse<T>(string name, out T value)
        where T : struct, Enum
    {
        foreach (var (member, wire) in Names(typeof(T)))
        {
            if (string.Equals(wire, name, StringComparison.Ordinal))
            {
                value = (T)member;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static IReadOnlyDictionary<object, string> Names(Type type) => ByType.GetOrAdd(type, static enumType =>
        enumType.GetFields(BindingFlags.Public | BindingFlags.Static).ToDictionary(
            field => field.GetValue(null)!,
            field => field.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name
                ?? throw new InvalidOperationException($"{enumType.Name}.{field.Name} has no wire name.")));
}
