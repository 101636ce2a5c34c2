using Router.Domain.Routing;
using System.Text.Json;
using Router.Gateway.Routing;
using Xunit;

namespace Router.Gateway.Tests;

public sealed class ChatRequestValidatorTests
{
    private static readonly HashSet<string> Portfolio = ["llama3.1-8b", "gpt-4o"];
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    [Theory]
    [InlineData("auto", "auto", null, null)]
    [InlineData("cascade/cheap-first", "cheap-first", RoutingMode.Cascade, null)]
    [InlineData("pre-call/auto", "auto", RoutingMode.PreCall, null)]
    [InlineData("hybrid/auto", "auto", RoutingMode.Hybrid, null)]
    [InlineData("gpt-4o", null, null, "gpt-4o")]
    public void The_model_field_names_a_policy_or_a_concrete_model(string model, string? policy, RoutingMode? mode, string? direct)
    {
        var (request, error) = Validate($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Null(error);
        Assert.Equal(new RouteTarget(policy, mode, direct), request!.Target);
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":"nope","messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":"auto","messages":[]}""", "messages")]
    [InlineData("""{"model":"auto"}""", "messages")]
    [InlineData("""{"model":"auto","messages":[{"role":"system","content":"be nice"}]}""", "messages")]
    [InlineData("""{"model":"auto","messages":[{"role":"robot","content":"hi"}]}""", "messages[0].role")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":5}]}""", "messages[0].content")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":[{"type":"image_url"}]}]}""", "messages[0].content")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "max_tokens")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":999999}""", "max_completion_tokens")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"temperature":-0.1}""", "temperature")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}""", "stop")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"top_logprobs":3}""", "top_logprobs")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"router":{"max_cost_usd":-1}}""", "router.max_cost_usd")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"router":{"max_latency_ms":0}}""", "router.max_latency_ms")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"router":{"min_confidence":1.5}}""", "router.min_confidence")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"router":{"mode":"sideways"}}""", "router.mode")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"router":{"mode":"cascade"}}""", "router.mode")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"router":{"max_latency_ms":0.001}}""", "router.max_latency_ms")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"router":{"task_family":"a\u0000b"}}""", "router.task_family")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"router":{"options":["A","BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"]}}""", "router.options")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"n":0}""", "n")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"n":129}""", "n")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"top_p":1.5}""", "top_p")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"frequency_penalty":-2.5}""", "frequency_penalty")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"presence_penalty":3}""", "presence_penalty")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"logit_bias":{"x":1}}""", "logit_bias.x")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":101}}""", "logit_bias.50256")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}""", "response_format")]
    [InlineData("""{"model":"auto","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", "stream_options")]
    [InlineData("""{"model":"cascade/has space","messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("""{"model":"auto\u0000","messages":[{"role":"user","content":"hi"}]}""", "model")]
    public void Each_bad_field_is_named(string json, string param)
    {
        var (request, error) = Validate(json);

        Assert.Null(request);
        Assert.Equal(param, error!.Param);
        Assert.StartsWith(param + " ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_valid_request_is_normalised()
    {
        var (request, error) = Validate("""
            {"model":"auto","messages":[{"role":"system","content":"terse"},{"role":"user","content":[{"type":"text","text":"2+"},{"type":"text","text":"2?"}]}],
             "stop":"\n","max_completion_tokens":64,"temperature":0.2,"seed":7,
             "router":{"max_cost_usd":0.01,"max_latency_ms":2000,"min_confidence":0.8,"mode":"hybrid","options":["A","B"]}}
            """);

        Assert.Null(error);
        Assert.Equal([new ChatTurn("system", "terse"), new ChatTurn("user", "2+2?")], request!.Messages);
        Assert.Equal(["\n"], request.Stop);
        Assert.Equal((64, 0.2, 7), (request.MaxTokens, request.Temperature, request.Seed));
        Assert.Equal(RoutingMode.Hybrid, request.Target.Mode);
        Assert.Equal((0.01m, 2000.0, 0.8), (request.MaxCostUsd!.Value, request.MaxLatencyMs!.Value, request.MinConfidence!.Value));
        Assert.Equal(ChatRequestValidator.RoutingTopLogprobs, request.TopLogprobs);
        Assert.Equal(["A", "B"], request.Options);
    }

    [Theory]
    [InlineData("""{"n":2}""", "n")]
    [InlineData("""{"top_p":0.9}""", "top_p")]
    [InlineData("""{"frequency_penalty":0.5}""", "frequency_penalty")]
    [InlineData("""{"logit_bias":{"50256":-100}}""", "logit_bias")]
    [InlineData("""{"response_format":{"type":"json_object"}}""", "response_format")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}}]}""", "tools")]
    [InlineData("""{"tool_choice":"auto"}""", "tool_choice")]
    [InlineData("""{"modalities":["text","audio"]}""", "modalities")]
    [InlineData("""{"store":true}""", "store")]
    public void An_openai_parameter_the_router_does_not_do_is_refused_by_name(string extra, string param)
    {
        var (request, error) = Validate(WithHi(extra));

        Assert.Null(request);
        Assert.Equal((param, "unsupported_parameter"), (error!.Param, error.Code));
    }

    [Theory]
    [InlineData("""{"n":1,"top_p":1,"frequency_penalty":0,"presence_penalty":0,"logit_bias":{}}""")]
    [InlineData("""{"response_format":{"type":"text"},"tool_choice":"none","parallel_tool_calls":false,"store":false,"service_tier":"auto","modalities":["text"]}""")]
    [InlineData("""{"stream":true,"stream_options":{"include_usage":true},"user":"user-42","tools":null}""")]
    public void Openai_defaults_of_unsupported_parameters_are_accepted(string extra)
    {
        var (request, error) = Validate(WithHi(extra));

        Assert.Null(error);
        Assert.NotNull(request);
    }

    [Theory]
    [InlineData("""{"best_of":2}""", "best_of")]
    [InlineData("""{"router":{"budget":1}}""", "router.budget")]
    [InlineData("""{"stream":true,"stream_options":{"include_obfuscation":true}}""", "stream_options.include_obfuscation")]
    public void An_unknown_parameter_is_refused_by_name(string extra, string param)
    {
        var (_, error) = Validate(WithHi(extra));

        Assert.Equal((param, "unknown_parameter"), (error!.Param, error.Code));
    }

    [Fact]
    public void A_long_model_name_is_refused_with_its_length_and_not_echoed_whole()
    {
        var (_, error) = Validate($$"""{"model":"cascade/{{new string('p', 100_000)}}","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal("model", error!.Param);
        Assert.Contains("got 100008", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 200);
    }

    /// <summary>A valid request with the fields of <paramref name="extra"/> added.</summary>
    private static string WithHi(string extra) =>
        """{"model":"auto","messages":[{"role":"user","content":"hi"}],""" + extra[1..];

    private static (ValidatedChatRequest?, RequestError?) Validate(string json) =>
        ChatRequestValidator.Validate(JsonSerializer.Deserialize<ChatCompletionRequest>(json, Json)!, Portfolio);
}
