using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Router.Infra.Tests;

/// <summary>
/// A compiled ARM template (the output of <c>bicep build</c>), or a module's template nested in
/// one, with the parameter values its parent passes. Reads what a deployment would create, and
/// resolves the simple references Bicep emits (<c>[variables('x').y]</c>, <c>[parameters('x')]</c>)
/// so tests can compare values instead of expression text.
/// </summary>
internal sealed partial class ArmTemplate(JsonObject root, ArmTemplate? parent = null, JsonObject? parameterValues = null)
{
    public JsonObject Root { get; } = root;

    /// <summary>The resources declared here, in either template language version (array or symbolic-name object).</summary>
    public IEnumerable<ArmResource> Resources => Root["resources"] switch
    {
        JsonArray array => array.OfType<JsonObject>().Select(node => new ArmResource(node["name"]!.ToString(), node, this)),
        JsonObject symbols => symbols.Select(pair => new ArmResource(pair.Key, pair.Value!.AsObject(), this)),
        _ => [],
    };

    /// <summary>Every resource here and in the modules below, depth first.</summary>
    public IEnumerable<ArmResource> AllResources() =>
        Resources.SelectMany(resource => resource.IsModule ? resource.Module.AllResources().Prepend(resource) : [resource]);

    public IEnumerable<ArmResource> OfType(string type) =>
        AllResources().Where(resource => string.Equals(resource.Type, type, StringComparison.OrdinalIgnoreCase));

    /// <summary>The module deployment declared here under a symbolic name.</summary>
    public ArmResource Declared(string symbolicName) =>
        Resources.Single(resource => resource.SymbolicName == symbolicName);

    public JsonObject ParameterDefinition(string name) =>
        Root["parameters"]?[name]?.AsObject() ?? throw new KeyNotFoundException($"no parameter '{name}'");

    public JsonNode? Variable(string name) => Resolve(Root["variables"]?[name]);

    /// <summary>
    /// The value a node stands for: a variable or parameter reference (with a property path) is
    /// followed, in the parent for values a module receives; anything else is returned as is.
    /// </summary>
    public JsonNode? Resolve(JsonNode? node)
    {
        if (node is not JsonValue value || !value.TryGetValue<string>(out var text) || Reference().Match(text) is not { Success: true } match)
        {
            return node;
        }

        var name = match.Groups["name"].Value;
        var resolved = match.Groups["kind"].Value == "variables" ? Variable(name) : Parameter(name);
        foreach (var property in match.Groups["path"].Value.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            resolved = Resolve(Property(resolved, property));
        }

        return resolved;
    }

    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A node as text: a string's value, or JSON without escaping quotes and apostrophes.</summary>
    public static string Text(JsonNode? node) => node switch
    {
        null => string.Empty,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => node.ToJsonString(Readable),
    };

    /// <summary>A property of an object node; null for anything else (an expression we do not evaluate).</summary>
    public static JsonNode? Property(JsonNode? node, string name) => node is JsonObject value ? value[name] : null;

    /// <summary>The items of an array node, each resolved.</summary>
    public IReadOnlyList<JsonNode?> Items(JsonNode? node) =>
        Resolve(node) is JsonArray array ? [.. array.Select(Resolve)] : [];

    private JsonNode? Parameter(string name)
    {
        if (parameterValues?[name] is JsonObject passed)
        {
            return parent!.Resolve(passed["value"]);
        }

        return Resolve(Root["parameters"]?[name]?["defaultValue"]);
    }

    [GeneratedRegex(@"^\[(?<kind>variables|parameters)\('(?<name>[^']+)'\)(?<path>(\.[A-Za-z_][A-Za-z0-9_]*)*)\]$")]
    private static partial Regex Reference();
}

/// <summary>One resource of a compiled template, read in the scope of the template declaring it.</summary>
internal sealed record ArmResource(string SymbolicName, JsonObject Node, ArmTemplate Scope)
{
    public string Type => Node["type"]!.ToString();

    public bool IsModule => Type == "Microsoft.Resources/deployments";

    /// <summary>A module's template, bound to the parameter values this resource passes it.</summary>
    public ArmTemplate Module => new(Node["properties"]!["template"]!.AsObject(), Scope, Node["properties"]!["parameters"]?.AsObject());

    /// <summary>The value at a dotted path under the resource (e.g. "properties.template.containers"), resolved at each step.</summary>
    public JsonNode? Get(string path) =>
        path.Split('.').Aggregate<string, JsonNode?>(Node, (node, property) => Scope.Resolve(ArmTemplate.Property(Scope.Resolve(node), property)));

    /// <summary>The value this module deployment passes for one of its parameters, resolved.</summary>
    public JsonNode? Argument(string parameter) => Scope.Resolve(Node["properties"]!["parameters"]?[parameter]?["value"]);

    /// <summary>The expression text this module deployment passes for one of its parameters, unresolved.</summary>
    public string ArgumentText(string parameter) => Node["properties"]!["parameters"]?[parameter] switch
    {
        JsonObject passed => ArmTemplate.Text(passed["value"]),
        var computed => ArmTemplate.Text(computed),
    };

    /// <summary>The expression text at a dotted path, unresolved (for values computed at deployment).</summary>
    public string Text(string path) =>
        ArmTemplate.Text(path.Split('.').Aggregate<string, JsonNode?>(Node, (node, property) => ArmTemplate.Property(node, property)));

    public IReadOnlyList<JsonObject> Containers => [.. Scope.Items(Get("properties.template.containers")).OfType<JsonObject>()];
}
