using Router.Contracts;

namespace Router.Gateway.Routing;

/// <summary>
/// Where a streaming request's answer goes. The router opens it only once it knows which model
/// answers: an accepted earlier stage is replayed from its buffer, the last stage streams live.
/// </summary>
public interface IAnswerSink
{
    Task BeginAsync(string model, CancellationToken cancellationToken);

    Task WriteAsync(string text, IReadOnlyList<TokenLogprob> tokens, CancellationToken cancellationToken);
}
