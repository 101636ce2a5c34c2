namespace Router.Testing;

/// <summary>The AppHost's default portfolio as the Gateway receives it (Portfolio:Json), for hosts the tests start themselves.</summary>
public static class TestPortfolio
{
    public const string Json = """
        [
          {"name": "llama3.1-8b", "tier": 0, "inputUsdPerMillionTokens": 0.18, "outputUsdPerMillionTokens": 0.18, "parameterCount": 8000000000, "contextLength": 131072},
          {"name": "llama3.1-70b", "tier": 1, "inputUsdPerMillionTokens": 0.88, "outputUsdPerMillionTokens": 0.88, "parameterCount": 70000000000, "contextLength": 131072},
          {"name": "gpt-4o", "tier": 2, "inputUsdPerMillionTokens": 2.5, "outputUsdPerMillionTokens": 10.0, "contextLength": 128000}
        ]
        """;

    /// <summary>The same portfolio as indexed configuration keys (Portfolio:Models:i:Name ...), for tests that override single entries.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Settings()
    {
        var models = System.Text.Json.JsonDocument.Parse(Json).RootElement.EnumerateArray().ToList();
        for (var i = 0; i < models.Count; i++)
        {
            foreach (var property in models[i].EnumerateObject())
            {
                yield return new($"Portfolio:Models:{i}:{char.ToUpperInvariant(property.Name[0])}{property.Name[1..]}", property.Value.ToString());
            }
        }
    }
}
