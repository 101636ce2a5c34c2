using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Router.Contracts;
using Router.InferenceWorker.Backends;
using Xunit;

namespace Router.InferenceWorker.Tests;

/// <summary>
/// The one-pass reader of the vllm backend's responses, on bodies the stub never sends: properties
/// shuffled, unknown and nested fields, nulls, repeated properties, and every way a body can be
/// wrong, with the status and detail the backend answers each with.
/// </summary>
public sealed class OpenAiResponseReaderTests
{
    private const string Endpoint = "http://vllm.test/";

    [Fact]
    public void Chat_reads_the_first_choice_in_any_order_skipping_unknown_fields()
    {
        const string body = """
            {
              "usage": {"total_tokens": 9, "completion_tokens": 2, "details": {"cached": [1, {"x": null}]}, "prompt_tokens": 7},
              "id": "chatcmpl-1",
              "choices": [
                {
                  "logprobs": {
                    "refusal": null,
                    "content": [
                      {
                        "top_logprobs": [{"logprob": -0.25, "token": "Hi", "bytes": [72, 105]}, {"bytes": [], "token": "Hey", "logprob": -2.5, "top_logprobs": "not read"}],
                        "bytes": [72, 105], "logprob": -0.25, "token": "Hi", "extra": {"nested": {"deeper": [true, false, {"token": 1}]}}
                      },
                      {"token": "!", "logprob": null, "top_logprobs": null}
                    ]
                  },
                  "finish_reason": "length",
                  "index": 0,
                  "message": {"tool_calls": [{"content": 5}], "content": "Hi!", "role": "assistant"}
                },
                {"message": 5, "finish_reason": [], "logprobs": "only the first choice is read"}
              ],
              "system_fingerprint": {"unknown": ["object", {"choices": []}]}
            }
            """;

        var choice = Read(body, chat: true, topLogprobs: 5).FirstChoice!;

        Assert.Equal("Hi!", choice.Text.Value);
        Assert.Equal("length", choice.FinishReason.Value);
        Assert.Equal("Hi -0.25 [Hi -0.25, Hey -2.5] | ! -Infinity []", Show(choice.Logprobs!.Value.Value));
        Assert.Equal((7, 2), Counts(Read(body, chat: true, topLogprobs: 5)));
    }

    [Fact]
    public void Legacy_completions_join_the_parallel_arrays_in_any_order_skipping_unknown_fields()
    {
        const string body = """
            {
              "choices": [{
                "logprobs": {
                  "text_offset": [0, 2],
                  "top_logprobs": [{" B": -0.5, " A": -1.5, " C": -0.75}, null],
                  "token_logprobs": [-0.5, null],
                  "extra": {"tokens": ["not", "these"]},
                  "tokens": [" B", "."]
                },
                "finish_reason": "stop",
                "text": " B.",
                "index": 0
              }],
              "model": "m",
              "usage": {"prompt_tokens": 3, "completion_tokens": null}
            }
            """;

        var json = Read(body, chat: false, topLogprobs: 2);

        Assert.Equal(" B.", json.FirstChoice!.Text.Value);
        Assert.Equal("stop", json.FirstChoice.FinishReason.Value);
        Assert.Equal(" B -0.5 [ B -0.5,  C -0.75] | . -Infinity []", Show(json.FirstChoice.Logprobs!.Value.Value));
        Assert.Equal((3, 0), Counts(json));
    }

    [Fact]
    public void A_streamed_chunk_reads_the_delta_and_a_usage_chunk_has_no_choice()
    {
        var delta = new OpenAiResponseReader(chat: true, streamed: true, topLogprobs: 1).Read(
            """{"choices": [{"index": 0, "delta": {"role": "assistant", "content": " B"}, "message": {"content": "not a chunk's"}, "logprobs": {"content": [{"token": " B", "logprob": -0.5, "top_logprobs": []}]}}]}"""u8)!;
        var usage = new OpenAiResponseReader(chat: true, streamed: true, topLogprobs: 1).Read("""{"choices": [], "usage": {"prompt_tokens": 42, "completion_tokens": 4}}"""u8)!;

        Assert.Equal(" B", delta.FirstChoice!.Text.Value);
        Assert.Equal(" B -0.5 []", Show(delta.FirstChoice.Logprobs!.Value.Value));
        Assert.Null(delta.Usage.Value);
        Assert.Null(usage.FirstChoice);
        Assert.Equal((42, 4), Counts(usage));
    }

    [Theory]
    [InlineData(true, """{"usage": null, "choices": [{"message": {"content": null}, "finish_reason": null, "logprobs": null}]}""")]
    [InlineData(true, """{"choices": [{"message": null}]}""")]
    [InlineData(false, """{"choices": [{"text": null, "finish_reason": null, "logprobs": null}], "usage": "not an object"}""")]
    [InlineData(false, """{"choices": [null]}""")]
    public void Nulls_count_as_absent(bool chat, string body)
    {
        var json = Read(body, chat, topLogprobs: 1);

        Assert.Null(json.FirstChoice!.Text.Value);
        Assert.Null(json.FirstChoice.FinishReason.Value);
        Assert.Null(json.FirstChoice.Logprobs);
        Assert.Null(json.Usage.Value);
    }

    [Theory]
    [InlineData(true, """{"content": null}""")]
    [InlineData(true, """{"content": {"token": "x"}}""")]
    [InlineData(true, "[]")]
    [InlineData(false, """{"tokens": null, "token_logprobs": [1]}""")]
    [InlineData(false, """{"tokens": "x"}""")]
    [InlineData(false, "5")]
    public void Logprobs_without_a_token_array_have_no_tokens(bool chat, string logprobs)
    {
        var json = Read($$"""{"choices": [{"logprobs": {{logprobs}}}]}""", chat, topLogprobs: 1);

        Assert.Empty(json.FirstChoice!.Logprobs!.Value.Value);
    }

    [Fact]
    public void Chat_keeps_the_first_k_alternatives_as_sent_and_leaves_the_rest_unread()
    {
        const string body = """
            {"choices": [{"logprobs": {"content": [{"token": "a", "logprob": -1,
              "top_logprobs": [{"token": "a", "logprob": -1}, {"token": "b", "logprob": -0.5}, 5, {"logprob": -3}]}]}}]}
            """;

        Assert.Equal("a -1 [a -1, b -0.5]", Show(Read(body, chat: true, topLogprobs: 2).FirstChoice!.Logprobs!.Value.Value));
        Assert.Equal("a -1 []", Show(Read(body, chat: true, topLogprobs: 0).FirstChoice!.Logprobs!.Value.Value));
    }

    [Theory]
    [InlineData(3, "x -1 [b -0.5, d -0.5, a -1]")]
    [InlineData(5, "x -1 [b -0.5, d -0.5, a -1, c -1, e -Infinity]")]
    [InlineData(9, "x -1 [b -0.5, d -0.5, a -1, c -1, e -Infinity]")]
    [InlineData(0, "x -1 []")]
    public void Legacy_keeps_the_k_highest_alternatives_and_of_equals_the_first_sent(int k, string expected)
    {
        const string body = """
            {"choices": [{"logprobs": {"tokens": ["x"], "token_logprobs": [-1], "top_logprobs": [{"a": -1, "b": -0.5, "c": -1, "d": -0.5, "e": null}]}}]}
            """;

        Assert.Equal(expected, Show(Read(body, chat: false, topLogprobs: k).FirstChoice!.Logprobs!.Value.Value));
    }

    [Fact]
    public void Of_a_repeated_property_the_last_counts()
    {
        const string body = """
            {"choices": [{"message": {"content": 5, "content": "second"}, "finish_reason": "stop", "finish_reason": null}],
             "usage": {"prompt_tokens": "x"}, "usage": {"prompt_tokens": 1}}
            """;

        var json = Read(body, chat: true, topLogprobs: 1);

        Assert.Equal("second", json.FirstChoice!.Text.Value);
        Assert.Null(json.FirstChoice.FinishReason.Value);
        Assert.Equal((1, 0), Counts(json));
        Assert.Null(Read("""{"choices": [{}], "choices": []}""", chat: true, topLogprobs: 1).FirstChoice);
    }

    [Fact]
    public void Escaped_names_match_and_one_whose_escapes_make_no_text_is_skipped_unless_it_names_an_alternative()
    {
        const string body = """
            {"\ud800": 1, "c\u0068oices": [{"\u0074ext": "x", "logprobs": {"\ud800": [], "tokens": ["a"], "token_logprobs": [-1], "top_logprobs": [{"\u0062": -1}]}}], "usage": {"\ud800": {}}}
            """;
        const string badAlternative = """
            {"choices": [{"logprobs": {"tokens": ["a"], "token_logprobs": [-1], "top_logprobs": [{"\ud800": -1}]}}]}
            """;

        var json = Read(body, chat: false, topLogprobs: 2);

        Assert.Equal("x", json.FirstChoice!.Text.Value);
        Assert.Equal("a -1 [b -1]", Show(json.FirstChoice.Logprobs!.Value.Value));
        Assert.Equal((0, 0), Counts(json));
        Assert.StartsWith("logprobs.top_logprobs[0] has a name that cannot be read as text: ", Read(badAlternative, chat: false, topLogprobs: 2).FirstChoice!.Logprobs!.Value.Problem, StringComparison.Ordinal);
    }

    public static TheoryData<string> MalformedBodies =>
    [
        """{"id": "cmpl-1", "choices": [{"text": """,
        "",
        "{} x",
        """{"choices": [], "usage": {},}""",
        """{"choices": [{"logprobs": {"content": [1 2]}}]}""",
        """{"a": "\x"}""",
        """{"a": tru}""",
        new string('[', 65) + new string(']', 65),
    ];

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public void Malformed_json_fails_as_a_document_parse_does(string body)
    {
        var expected = Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(body));

        var error = Assert.ThrowsAny<JsonException>(() => Read(body, chat: true, topLogprobs: 1));

        Assert.Equal(expected.Message, error.Message);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    [InlineData("null")]
    public void Well_formed_json_that_is_not_an_object_reads_as_null(string body) =>
        Assert.Null(new OpenAiResponseReader(chat: false, streamed: false, topLogprobs: 1).Read(Encoding.UTF8.GetBytes(body)));

    public static TheoryData<bool, string, StatusCode, string> Failures => new()
    {
        { true, """{"id": "cmpl-1", "choices": [{"text": """, StatusCode.Internal, """returned malformed JSON (Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed. LineNumber: 0 | BytePositionInLine: 38.): {"id": "cmpl-1", "choices": [{"text": """ },
        { true, """{"choices": [{"message": 1}], "x": ]}""", StatusCode.Internal, """returned malformed JSON (']' is an invalid start of a value. LineNumber: 0 | BytePositionInLine: 35.): {"choices": [{"message": 1}], "x": ]}""" },
        { false, "[{\"choices\": []}]", StatusCode.Internal, "returned malformed JSON: not an object" },
        { true, """{"usage": {"prompt_tokens": "many"}, "choices": []}""", StatusCode.Internal, "returned no choices" },
        { false, """{"choices": null, "logprobs": {}}""", StatusCode.Internal, "returned no choices" },
        { false, """{"choices": {"0": {"text": "x"}}}""", StatusCode.Internal, "returned no choices" },
        { true, """{"choices": [{"message": {"content": "x"}, "logprobs": null}], "usage": {"prompt_tokens": 1}}""", StatusCode.FailedPrecondition, "returned no logprobs; the router needs them (for vLLM, check --max-logprobs; some models or servers do not support them)" },
        { false, """{"choices": [{"text": "x"}, {"text": "y", "logprobs": {}}]}""", StatusCode.FailedPrecondition, "returned no logprobs; the router needs them (for vLLM, check --max-logprobs; some models or servers do not support them)" },
        { true, """{"choices": [{"logprobs": {"content": [{"token": "a"}, {"logprob": -1}]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.content[1] has no token" },
        { true, """{"choices": [{"logprobs": {"content": [{"token": 7, "logprob": -1}]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.content[0].token is a number, not a string" },
        { true, """{"choices": [{"logprobs": {"content": [{"token": null}]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.content[0].token is null" },
        { true, """{"choices": [{"logprobs": {"content": [null]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.content[0] is null, not an object" },
        { true, """{"choices": [{"logprobs": {"content": [{"token": "a", "top_logprobs": [{"token": "a"}, ["b"]]}]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.content[0].top_logprobs[1] is an array, not an object" },
        { false, """{"choices": [{"logprobs": {"tokens": []}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs has no token_logprobs" },
        { false, """{"choices": [{"logprobs": {"tokens": ["a", false], "token_logprobs": [-1, -2]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.tokens[1] is a boolean, not a string" },
        { false, """{"choices": [{"logprobs": {"tokens": ["a"], "token_logprobs": null}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.token_logprobs is null, not an array" },
        { false, """{"choices": [{"logprobs": {"tokens": ["a", "b"], "token_logprobs": [-1]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.token_logprobs is shorter than logprobs.tokens (1 < 2)" },
        { false, """{"choices": [{"logprobs": {"top_logprobs": [{}], "tokens": ["a", "b"], "token_logprobs": [-1, -2]}}]}""", StatusCode.Internal, "returned logprobs in an unexpected shape: logprobs.top_logprobs is shorter than logprobs.tokens (1 < 2)" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Each_broken_body_fails_with_its_status_and_detail(bool chat, string body, StatusCode status, string cause)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Backend(body).GenerateAsync(Request(chat), CancellationToken.None));

        Assert.Equal(status, error.StatusCode);
        Assert.Equal($"vllm backend at {Endpoint} {cause}", error.Status.Detail);
    }

    [Fact]
    public async Task Text_of_the_wrong_type_fails_as_internal_naming_the_field_before_missing_logprobs_but_not_a_score()
    {
        const string body = """{"choices": [{"message": {"content": 5}, "logprobs": {"content": [{"token": "Yes", "logprob": -0.5}]}}]}""";

        var error = await Assert.ThrowsAsync<RpcException>(() => Backend(body).GenerateAsync(Request(chat: true), CancellationToken.None));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("choices[0].message.content is a number", error.Status.Detail, StringComparison.Ordinal);
        var score = await Backend(body).ScoreAsync(new ScoreRequest { Messages = { new ChatMessage { Role = "user", Content = "?" } }, Candidates = { "Yes" } }, CancellationToken.None);
        Assert.Equal(-0.5, score.Candidates[0].Logprob);
    }

    private static OpenAiResponse Read(string body, bool chat, int topLogprobs) =>
        new OpenAiResponseReader(chat, streamed: false, topLogprobs).Read(Encoding.UTF8.GetBytes(body))!;

    private static (int, int) Counts(OpenAiResponse json) => (json.Usage.Value!.PromptTokens, json.Usage.Value.CompletionTokens);

    private static string Show(IEnumerable<TokenLogprob> tokens) => string.Join(" | ", tokens.Select(t =>
        $"{t.Token} {Show(t.Logprob)} [{string.Join(", ", t.TopLogprobs.Select(a => $"{a.Token} {Show(a.Logprob)}"))}]"));

    private static string Show(double logprob) => logprob.ToString(CultureInfo.InvariantCulture);

    private static VllmBackend Backend(string body) => new(
        new HttpClient(new Answer(body)),
        new WorkerOptions { Model = "m", Backend = "vllm", Endpoint = new Uri(Endpoint), MaxRetries = 0 },
        NullLogger<VllmBackend>.Instance);

    private static GenerateRequest Request(bool chat)
    {
        var request = new GenerateRequest { MaxTokens = 8, TopLogprobs = 2 };
        if (chat)
        {
            request.Messages.Add(new ChatMessage { Role = "user", Content = "?" });
        }
        else
        {
            request.Prompt = "?";
        }

        return request;
    }

    /// <summary>A model server that answers every call with the same 200 body.</summary>
    private sealed class Answer(string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
    }
}
