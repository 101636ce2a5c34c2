using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Router.Gateway.Apis;
using Router.Gateway.Routing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>What the body reader says about each way a body can be wrong: the field, in OpenAI's words, never the serializer's.</summary>
public sealed class JsonBodyTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    [Theory]
    [InlineData("""{"model":"auto","max_tokens":"many"}""", "max_tokens", "invalid_type", "Invalid type for 'max_tokens': expected an integer, but got a string instead.")]
    [InlineData("""{"model":5}""", "model", "invalid_type", "Invalid type for 'model': expected a string, but got a number instead.")]
    [InlineData("""{"messages":{"role":"user"}}""", "messages", "invalid_type", "Invalid type for 'messages': expected an array, but got an object instead.")]
    [InlineData("""{"messages":[{"role":7}]}""", "messages[0].role", "invalid_type", "Invalid type for 'messages[0].role': expected a string, but got a number instead.")]
    [InlineData("""{"stream":null}""", "stream", "invalid_type", "Invalid type for 'stream': expected a boolean, but got null instead.")]
    [InlineData("""{"router":{"max_cost_usd":1e30}}""", "router.max_cost_usd", "invalid_value", "Invalid value for 'router.max_cost_usd': expected a number in the supported range, but got '1e30'.")]
    [InlineData("""{"seed":1.5}""", "seed", "invalid_value", "Invalid value for 'seed': expected an integer in the supported range, but got '1.5'.")]
    [InlineData("""{"logit_bias":{"50256":"x"}}""", "logit_bias.50256", "invalid_type", "Invalid type for 'logit_bias.50256': expected a number, but got a string instead.")]
    public void A_wrong_value_names_the_field_and_what_it_expects(string body, string param, string code, string message)
    {
        var error = Error(body);

        Assert.Equal((param, code, message), (error.Param, error.Code, error.Message));
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"\ud800"}]}""", "messages[0].content")]
    [InlineData("""{"messages":[{"role":"user","content":"a\udc00b"}]}""", "messages[0].content")]
    [InlineData("""{"model":"x","\ud800":1}""", "(property name)")]
    public void Text_that_is_not_unicode_is_invalid_text_at_its_field(string body, string param)
    {
        var error = Error(body);

        Assert.Equal(("invalid_text", param), (error.Code, error.Param));
    }

    [Fact]
    public void Invalid_utf8_is_refused()
    {
        byte[] body = [.. "{\"model\":\"a"u8, 0xFF, 0xFE, .. "\"}"u8];

        Assert.Contains(Error(body).Code, new[] { "invalid_json", "invalid_text" });
    }

    [Theory]
    [InlineData("", "missing_body", null)]
    [InlineData("  \n", "missing_body", null)]
    [InlineData("[1,2]", "invalid_json", null)]
    [InlineData("null", "invalid_json", null)]
    [InlineData("""{"model":"auto","messages":[""", "invalid_json", "messages[0]")]
    [InlineData("""{"model":}""", "invalid_json", "model")]
    public void A_body_that_is_not_a_json_object_says_so(string body, string code, string? param)
    {
        var error = Error(body);

        Assert.Equal((code, param), (error.Code, error.Param));
        Assert.DoesNotContain("System.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_body_can_stand_for_a_default()
    {
        var (value, error) = JsonBody.Parse<ChatCompletionRequest>(Array.Empty<byte>(), Json, () => new ChatCompletionRequest { Model = "default" });

        Assert.Null(error);
        Assert.Equal("default", value!.Model);
    }

    [Fact]
    public void A_valid_body_is_read_with_unknown_fields_kept_aside()
    {
        var (value, error) = JsonBody.Parse<ChatCompletionRequest>("""{"model":"auto","n":1,"best_of":2}"""u8.ToArray(), Json);

        Assert.Null(error);
        Assert.Equal(("auto", 1), (value!.Model, value.N));
        Assert.Equal(["best_of"], value.OtherFields!.Keys);
    }

    [Theory]
    [InlineData("""{"model":"a\n\"b\" \u00e9 \ud83d\ude00"}""", "a\n\"b\" \u00e9 \U0001F600")]
    [InlineData("""{"model":"né 😀"}""", "né 😀")]
    [InlineData("""{"\u006dodel":"x"}""", "x")]
    public void Escaped_and_non_ascii_text_that_is_unicode_is_read(string body, string model)
    {
        var (value, error) = JsonBody.Parse<ChatCompletionRequest>(Encoding.UTF8.GetBytes(body), Json);

        Assert.Null(error);
        Assert.Equal(model, value!.Model);
    }

    [Theory]
    [InlineData("""{"model":"x"} {}""")]
    [InlineData("""{"model":"x",}""")]
    [InlineData("""{"model":"x"} // a comment""")]
    public void Anything_after_or_beside_the_object_is_invalid_json(string body) =>
        Assert.Equal("invalid_json", Error(body).Code);

    private static OpenAiErrorBody Error(string body) => Error(Encoding.UTF8.GetBytes(body));

    private static OpenAiErrorBody Error(byte[] body)
    {
        var (value, error) = JsonBody.Parse<ChatCompletionRequest>(body, Json);
        Assert.Null(value);
        var result = Assert.IsType<JsonHttpResult<OpenAiError>>(error);
        Assert.Equal(StatusCodes.Status400BadRequest, result.StatusCode);
        return result.Value!.Error;
    }
}
