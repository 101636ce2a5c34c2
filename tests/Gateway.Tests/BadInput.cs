using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace Router.Gateway.Tests;

/// <summary>Who a probe claims to be.</summary>
public enum Credentials
{
    TeamKey,
    AdminKey,
    None,
    UnknownKey,
    NotBearer,
}

/// <summary>One hostile HTTP request; every probe is wrong by construction, so the Gateway must refuse it with a 4xx.</summary>
public sealed record Probe(string What, HttpMethod Method, string Path, byte[]? Body, Credentials Credentials, string? ContentType = "application/json")
{
    public HttpRequestMessage ToRequest(string teamKey, string adminKey)
    {
        var request = new HttpRequestMessage(Method, Path);
        var key = Credentials switch
        {
            Credentials.TeamKey => teamKey,
            Credentials.AdminKey => adminKey,
            Credentials.UnknownKey => "rk_not-a-key-of-any-team-0123456789",
            _ => null,
        };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        else if (Credentials == Credentials.NotBearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        }

        if (Body is not null)
        {
            // As curl does for a large body: the Gateway can refuse it (413) before it is sent.
            request.Headers.ExpectContinue = Body.Length > 1024 * 1024;
            request.Content = new ByteArrayContent(Body);
            if (ContentType is not null)
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(ContentType);
            }
        }

        return request;
    }

    public override string ToString()
    {
        var body = Body is null ? "(no body)" : Encoding.UTF8.GetString(Body);
        return $"{What}: {Method} {(Path.Length > 120 ? Path[..120] + "..." : Path)} as {Credentials}, body {(body.Length > 300 ? body[..300] + $"... ({Body!.Length} bytes)" : body)}";
    }
}

/// <summary>
/// Generators of hostile requests over every public endpoint: wrong types, out-of-range and huge
/// numbers, names with NUL bytes or 100,000 characters, lone surrogates and invalid UTF-8, cut-off
/// and non-object JSON, missing bodies, unknown and unsupported parameters, bad query strings,
/// bad credentials, unknown paths and wrong methods. Not here: requests Kestrel refuses before the
/// application sees them (a %00 in the path, a request line over 8 KB, headers over 32 KB), which
/// get its bare 400, 414 or 431.
/// </summary>
public static class BadInput
{
    /// <summary>Stands for a raw JSON token a JsonNode cannot hold (an escaped lone surrogate, 1e400, invalid UTF-8).</summary>
    private const string Raw = "\"__raw__\"";

    private static readonly byte[] InvalidUtf8 = [(byte)'"', 0xC3, 0x28, 0xFF, (byte)'"'];

    public static Gen<Probe> Probes(string team) => Gen.Frequency(
        (40, ChatBodies),
        (6, CutOffChatBodies),
        (6, WholeBodies),
        (10, Feedback),
        (10, AdminTeams),
        (6, AdminKeys(team)),
        (8, Reports),
        (6, Paths),
        (6, Access),
        (2, AdminKeyRouting),
        (1, Gen.Const(new Probe("a body over the limit", HttpMethod.Post, "/v1/chat/completions", Huge(), Credentials.TeamKey))));

    private static readonly string[] ChatPaths = ["/v1/chat/completions", "/v1/route"];

    private static JsonObject ValidChat(bool stream) => new()
    {
        ["model"] = "auto",
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "What is 2+2?" }),
        ["stream"] = stream,
    };

    /// <summary>A valid chat request with one field made wrong.</summary>
    private static readonly Gen<Probe> ChatBodies =
        from path in Gen.OneOf(ChatPaths)
        from stream in Gen.Bool
        from wrong in Gen.OneOf(ChatFieldValues())
        from contentType in Gen.OneOf<string?>("application/json", "text/plain", null, "application/json; charset=utf-8")
        select new Probe($"chat {wrong.Field}", HttpMethod.Post, path, With(ValidChat(stream), wrong.Field, wrong.Value), Credentials.TeamKey, contentType);

    private static readonly Gen<Probe> CutOffChatBodies =
        from path in Gen.OneOf(ChatPaths)
        let whole = Encoding.UTF8.GetBytes(ValidChat(false).ToJsonString())
        from length in Gen.Int[0, whole.Length - 1]
        select new Probe($"chat body cut at {length}", HttpMethod.Post, path, whole[..length], Credentials.TeamKey);

    private static readonly Gen<Probe> WholeBodies =
        from path in Gen.OneOf([.. ChatPaths, "/v1/feedback", "/admin/teams"])
        from body in Gen.OneOf("[]", "1", "\"x\"", "null", "true", "{", "}", "{\"model\":", "  ", "{\"a\":1}{", new string('[', 200) + new string(']', 200), "{\"router\":" + new string('[', 100) + new string(']', 100) + "}", "{\"\\ud800\":1}", "\u0000")
        select new Probe("whole body", HttpMethod.Post, path, Encoding.UTF8.GetBytes(body), path.StartsWith("/admin", StringComparison.Ordinal) ? Credentials.AdminKey : Credentials.TeamKey);

    private static (string Field, string Value)[] ChatFieldValues()
    {
        var values = new List<(string, string)>();
        void Add(string field, params string[] bad) => values.AddRange(bad.Select(b => (field, b)));

        Add("model", "5", "true", "[]", "{}", "null", "\"\"", "\"   \"", "\"no-such-model\"", "\"cascade/\"", "\"sideways/default\"", "\"cascade/x\\u0000y\"", "\"auto\\u0000\"", "\"x\\u0001\"", "\"cascade/a b\"",
            Quoted("cascade/" + new string('p', 100_000)), Quoted("cascade/" + new string('p', 65)), Quoted(new string('m', 129)), "\"\\ud800\"", "\"cascade/\\udc00x\"", "invalid-utf8");
        Add("messages", "\"hi\"", "5", "{}", "[]", "null", "[5]", "[null]", "[{\"role\":\"robot\",\"content\":\"hi\"}]", "[{\"role\":5,\"content\":\"hi\"}]", "[{\"role\":\"user\",\"content\":5}]",
            "[{\"role\":\"user\"}]", "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]", "[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]", "[{\"role\":\"system\",\"content\":\"x\"}]",
            "[{\"role\":\"user\",\"content\":\"\\ud800\"}]", "[{\"role\":\"user\",\"content\":\"a\\udfffb\"}]", "[{\"role\":\"\\ud800\",\"content\":\"hi\"}]",
            "[" + string.Join(",", Enumerable.Repeat("{\"role\":\"user\",\"content\":\"hi\"}", 513)) + "]", "[{\"role\":\"user\",\"content\":invalid-utf8}]");
        Add("max_tokens", "0", "-1", "32769", "1e30", "1.5", "\"5\"", "true", "[]", "99999999999");
        Add("max_completion_tokens", "0", "40000", "-7", "\"x\"");
        Add("temperature", "-0.1", "2.5", "\"hot\"", "1e400", "-1e400", "[]", "\"NaN\"", "\"Infinity\"");
        Add("top_logprobs", "21", "-1", "3", "2.5");
        Add("logprobs", "\"yes\"", "1");
        Add("n", "0", "-3", "100", "129", "2", "1.5", "\"2\"");
        Add("top_p", "5", "-1", "0.5", "\"x\"", "1e400");
        Add("frequency_penalty", "3", "1", "-2.5");
        Add("presence_penalty", "-3", "0.5", "\"x\"");
        Add("logit_bias", "{\"x\":1}", "{\"50256\":200}", "{\"50256\":5}", "[]", "5", "{\"1\":\"x\"}");
        Add("seed", "1e30", "\"x\"", "1.5");
        Add("stream", "\"yes\"", "1");
        Add("stop", "\"\"", "[\"a\",\"b\",\"c\",\"d\",\"e\"]", "[1]", "5", "[\"\"]", "{}");
        Add("response_format", "{\"type\":\"json_object\"}", "{\"type\":\"json_schema\",\"json_schema\":{}}", "{\"type\":\"xml\"}", "\"text\"", "5", "{}");
        Add("tools", "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "[]", "5");
        Add("tool_choice", "\"auto\"", "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}");
        Add("functions", "[]");
        Add("function_call", "\"auto\"");
        Add("audio", "{}");
        Add("modalities", "[\"audio\"]", "[\"text\",\"audio\"]");
        Add("prediction", "{}");
        Add("reasoning_effort", "\"low\"");
        Add("store", "true");
        Add("metadata", "{\"a\":\"b\"}");
        Add("service_tier", "\"flex\"");
        Add("web_search_options", "{}");
        Add("parallel_tool_calls", "\"x\"");
        Add("best_of", "2");
        Add("echo", "true");
        Add("x_unknown_\\u0000", "1");
        Add("stream_options", "\"yes\"", "5", "{\"include_usage\":\"x\"}", "{\"foo\":1}");
        Add("user", Quoted(new string('u', 257)), "5");
        Add("router", "5", "\"x\"", "[]", "{\"foo\":1}", "{\"max_cost_usd\":-1}", "{\"max_cost_usd\":1e30}", "{\"max_cost_usd\":\"x\"}", "{\"max_latency_ms\":0.001}", "{\"max_latency_ms\":0}",
            "{\"max_latency_ms\":-5}", "{\"max_latency_ms\":1e10}", "{\"max_latency_ms\":1e400}", "{\"min_confidence\":2}", "{\"min_confidence\":\"x\"}", "{\"mode\":\"sideways\"}", "{\"mode\":5}",
            "{\"task_family\":\"a\\u0000b\"}", Quoted(new string('f', 65)).Insert(0, "{\"task_family\":") + "}", "{\"options\":[\"\"]}", "{\"options\":[5]}",
            "{\"options\":[" + string.Join(",", Enumerable.Range(0, 27).Select(i => $"\"{(char)('A' + (i % 26))}{i}\"")) + "]}", "{\"options\":[\"" + new string('o', 33) + "\"]}");
        return [.. values];
    }

    private static readonly Gen<Probe> Feedback =
        from wrong in Gen.OneOf<(string, string)>(
            ("request_id", "\"chatcmpl-\\u0000\""), ("request_id", Quoted("chatcmpl-" + new string('0', 100))), ("request_id", "\"\""), ("request_id", "5"), ("request_id", "null"),
            ("request_id", "\"\\ud800\""), ("request_id", "\"a b\""), ("request_id", "\"chatcmpl-00000000000000000000000000000000\""), ("request_id", "invalid-utf8"),
            ("correct", "\"yes\""), ("correct", "1"), ("score", "2"), ("score", "-1"), ("score", "\"x\""), ("score", "1e400"), ("score", "0.5"), ("correct", "null"), ("label", "true"))
        select new Probe($"feedback {wrong.Item1}", HttpMethod.Post, "/v1/feedback", With(new JsonObject { ["request_id"] = "chatcmpl-00000000000000000000000000000001", ["correct"] = true }, wrong.Item1, wrong.Item2), Credentials.TeamKey);

    private static readonly Gen<Probe> AdminTeams =
        from wrong in Gen.OneOf<(string, string)>(
            ("name", "\"\""), ("name", "\"x\\u0000y\""), ("name", Quoted(new string('t', 101))), ("name", Quoted(new string('t', 100_000))), ("name", "5"), ("name", "null"), ("name", "\"\\ud800\""),
            ("name", "\"a/b\""), ("name", "\"tab\\there\""), ("name", "invalid-utf8"), ("monthly_budget_usd", "1e30"), ("monthly_budget_usd", "-1"), ("monthly_budget_usd", "\"x\""),
            ("monthly_budget_usd", "1e10"), ("requests_per_minute", "0"), ("requests_per_minute", "-1"), ("requests_per_minute", "1e10"), ("requests_per_minute", "1.5"), ("requests_per_minute", "\"x\""),
            ("colour", "\"red\""))
        from emptyOrCut in Gen.Int[0, 9]
        let body = With(new JsonObject { ["name"] = "suite-team-new" }, wrong.Item1, wrong.Item2)
        select emptyOrCut == 0
            ? new Probe("admin team with no body", HttpMethod.Post, "/admin/teams", null, Credentials.AdminKey)
            : new Probe($"admin team {wrong.Item1}", HttpMethod.Post, "/admin/teams", body, Credentials.AdminKey);

    private static Gen<Probe> AdminKeys(string team) =>
        from probe in Gen.OneOf(
            new Probe("key for a DEL team", HttpMethod.Post, "/admin/teams/a%7Fb/keys", null, Credentials.AdminKey),
            new Probe("key for a long team", HttpMethod.Post, $"/admin/teams/{new string('a', 101)}/keys", null, Credentials.AdminKey),
            new Probe("key for a control team", HttpMethod.Post, "/admin/teams/a%01b/keys", Encoding.UTF8.GetBytes("{}"), Credentials.AdminKey),
            new Probe("key for an unknown team", HttpMethod.Post, "/admin/teams/no-such-team/keys", null, Credentials.AdminKey),
            new Probe("key with a numeric name", HttpMethod.Post, $"/admin/teams/{team}/keys", Encoding.UTF8.GetBytes("{\"name\":5}"), Credentials.AdminKey),
            new Probe("key with a NUL name", HttpMethod.Post, $"/admin/teams/{team}/keys", Encoding.UTF8.GetBytes("{\"name\":\"k\\u0000\"}"), Credentials.AdminKey),
            new Probe("key with an unknown field", HttpMethod.Post, $"/admin/teams/{team}/keys", Encoding.UTF8.GetBytes("{\"scope\":\"all\"}"), Credentials.AdminKey),
            new Probe("key with a cut body", HttpMethod.Post, $"/admin/teams/{team}/keys", Encoding.UTF8.GetBytes("{\"name\":"), Credentials.AdminKey),
            new Probe("key with an array body", HttpMethod.Post, $"/admin/teams/{team}/keys", Encoding.UTF8.GetBytes("[]"), Credentials.AdminKey),
            new Probe("key without the admin key", HttpMethod.Post, $"/admin/teams/{team}/keys", null, Credentials.TeamKey),
            new Probe("revoke a non-uuid", HttpMethod.Delete, "/admin/keys/not-a-uuid", null, Credentials.AdminKey),
            new Probe("revoke a control id", HttpMethod.Delete, "/admin/keys/%01", null, Credentials.AdminKey),
            new Probe("revoke an unknown key", HttpMethod.Delete, $"/admin/keys/{Guid.Empty}", null, Credentials.AdminKey),
            new Probe("list teams anonymously", HttpMethod.Get, "/admin/teams", null, Credentials.None),
            new Probe("list teams with a team key", HttpMethod.Get, "/admin/teams", null, Credentials.TeamKey))
        select probe;

    private static readonly Gen<Probe> Reports =
        from query in Gen.OneOf(
            "to=0001-01-15", "from=0001-01-01", "to=9999-12-31", "from=9999-12-31T23:59:59Z", "from=yesterday", "to=%00", "to=%01", "to=2026-13-45", "from=2026-11-05&to=2026-11-01",
            "from=2020-01-01&to=2026-01-01", "groupBy=colour", "groupBy=1", "groupBy=team,day", "groupBy=%00", "groupBy=%C3%28", "format=xml", "format=" + new string('f', 6_000), "to=" + new string('9', 6_000))
        select new Probe("report query", HttpMethod.Get, "/v1/reports/costs?" + query, null, Credentials.TeamKey);

    private static readonly Gen<Probe> Paths =
        from word in Gen.OneOf("x", "completions", "chat", "engines", "embeddings", "%01", "a%20b", "..%2F..%2Fetc%2Fpasswd")
        from probe in Gen.OneOf(
            new Probe("unknown /v1 path", HttpMethod.Get, $"/v1/{word}", null, Credentials.TeamKey),
            new Probe("unknown path", HttpMethod.Post, $"/{word}", Encoding.UTF8.GetBytes("{}"), Credentials.None),
            new Probe("unknown admin path", HttpMethod.Get, $"/admin/{word}", null, Credentials.AdminKey),
            new Probe("unknown model", HttpMethod.Get, $"/v1/models/{word}", null, Credentials.TeamKey),
            new Probe("GET chat", HttpMethod.Get, "/v1/chat/completions", null, Credentials.TeamKey),
            new Probe("PUT chat", HttpMethod.Put, "/v1/chat/completions", Encoding.UTF8.GetBytes("{}"), Credentials.TeamKey),
            new Probe("DELETE models", HttpMethod.Delete, "/v1/models", null, Credentials.TeamKey),
            new Probe("PATCH teams", HttpMethod.Patch, "/admin/teams", Encoding.UTF8.GetBytes("{}"), Credentials.AdminKey),
            new Probe("GET feedback", HttpMethod.Get, "/v1/feedback", null, Credentials.TeamKey))
        select probe;

    private static readonly Gen<Probe> Access =
        from path in Gen.OneOf("/v1/models", "/v1/chat/completions", "/v1/route", "/v1/feedback", "/v1/reports/costs", "/v1/models/gpt-4o")
        from credentials in Gen.OneOf(Credentials.None, Credentials.UnknownKey, Credentials.NotBearer)
        let post = !path.StartsWith("/v1/models", StringComparison.Ordinal) && path != "/v1/reports/costs"
        select new Probe("bad credentials", post ? HttpMethod.Post : HttpMethod.Get, path, post ? Encoding.UTF8.GetBytes(ValidChat(false).ToJsonString()) : null, credentials);

    /// <summary>The admin key only reads: a routing call with it is refused.</summary>
    private static readonly Gen<Probe> AdminKeyRouting =
        from path in Gen.OneOf(ChatPaths)
        select new Probe("admin key routing", HttpMethod.Post, path, Encoding.UTF8.GetBytes(ValidChat(false).ToJsonString()), Credentials.AdminKey);

    private static byte[] With(JsonObject body, string field, string value)
    {
        body[field] = "__raw__";
        var text = body.ToJsonString();
        var at = text.IndexOf(Raw, StringComparison.Ordinal);
        var before = Encoding.UTF8.GetBytes(text[..at]);
        var after = Encoding.UTF8.GetBytes(text[(at + Raw.Length)..]);
        var token = value.Contains("invalid-utf8", StringComparison.Ordinal)
            ? Splice(Encoding.UTF8.GetBytes(value), Encoding.UTF8.GetBytes("invalid-utf8"), InvalidUtf8)
            : Encoding.UTF8.GetBytes(value);
        return [.. before, .. token, .. after];
    }

    private static byte[] Splice(byte[] text, byte[] marker, byte[] replacement)
    {
        var at = text.AsSpan().IndexOf(marker);
        return [.. text[..at], .. replacement, .. text[(at + marker.Length)..]];
    }

    private static string Quoted(string text) => $"\"{text}\"";

    private static byte[] Huge()
    {
        var chat = ValidChat(false);
        chat["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = new string('x', 5 * 1024 * 1024) });
        return Encoding.UTF8.GetBytes(chat.ToJsonString());
    }
}
