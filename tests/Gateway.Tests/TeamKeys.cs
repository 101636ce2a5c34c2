using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>Teams and keys made the way a platform team makes them: through the admin API.</summary>
public static class TeamKeys
{
    /// <summary>Creates the team and one key of it; returns the key.</summary>
    public static async Task<string> CreateAsync(HttpClient client, string adminKey, string team, decimal? monthlyBudgetUsd = null)
    {
        var budget = monthlyBudgetUsd is { } usd ? $", \"monthly_budget_usd\": {usd.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : string.Empty;
        using var created = await SendAsync(client, adminKey, HttpMethod.Post, "/admin/teams", $"{{\"name\": \"{team}\"{budget}}}");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var issued = await SendAsync(client, adminKey, HttpMethod.Post, $"/admin/teams/{team}/keys", null);
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        return JsonDocument.Parse(await issued.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>A request with a bearer key and an optional JSON body.</summary>
    public static Task<HttpResponseMessage> SendAsync(HttpClient client, string? key, HttpMethod method, string path, string? json)
    {
        var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return client.SendAsync(request);
    }
}
