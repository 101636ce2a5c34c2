using Grpc.Core;
using Microsoft.Extensions.Logging;
using Router.Contracts;

namespace Router.InferenceWorker;

/// <summary>
/// The Inference contract served in the caller's own process: a <see cref="CallInvoker"/> under the
/// generated <see cref="Inference.InferenceClient"/>, so the Gateway's worker calls are the same code
/// whether the worker is another process or this one. It keeps the remote call's semantics the
/// Gateway relies on: the same request checks, the deadline (DeadlineExceeded), the caller's
/// cancellation (Cancelled), the handler's <see cref="RpcException"/> with its trailers, any other
/// failure as Unknown without its details, and disposal cancelling a call still running (how a
/// draft is aborted). What it saves is the hop: no serialisation, no HTTP/2, no second process.
/// </summary>
public sealed partial class InProcessInference(InferenceService service, ILogger logger) : CallInvoker
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new Call(options);
        var response = call.RunAsync(async token => (TResponse)(object)(method.Name switch
        {
            nameof(Inference.InferenceClient.Generate) => await service.GenerateAsync(As<GenerateRequest>(request), token),
            nameof(Inference.InferenceClient.Score) => await service.ScoreAsync(As<ScoreRequest>(request), token),
            nameof(Inference.InferenceClient.Info) => service.ModelInfo,
            _ => throw Unimplemented(method),
        }), this);
        return new AsyncUnaryCall<TResponse>(response, Task.FromResult(new Metadata()), call.GetStatus, call.GetTrailers, call.Cancel);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        if (method.Name != nameof(Inference.InferenceClient.GenerateStream))
        {
            throw Unimplemented(method);
        }

        var call = new Call(options);
        var reader = new ChunkReader<TResponse>(call, token => service.GenerateStreamAsync(As<GenerateRequest>(request), token), this);
        return new AsyncServerStreamingCall<TResponse>(reader, Task.FromResult(new Metadata()), call.GetStatus, call.GetTrailers, reader.Dispose);
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        AsyncUnaryCall(method, host, options, request).ResponseAsync.GetAwaiter().GetResult();

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw Unimplemented(method);

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw Unimplemented(method);

    private static T As<T>(object? request) where T : class =>
        request as T ?? throw new RpcException(new Status(StatusCode.InvalidArgument, $"expected a {typeof(T).Name}."));

    private static RpcException Unimplemented(IMethod method) => new(new Status(StatusCode.Unimplemented, $"{method.FullName} is not part of the Inference contract served in-process."));

    private void Unexpected(Exception e) => LogHandlerFailed(logger, e, service.ModelInfo.Model);

    [LoggerMessage(Level = LogLevel.Error, Message = "The in-process worker for {Model} failed")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string model);

    /// <summary>One call: its deadline and the caller's token as one token for the handler, and the status it ended with.</summary>
    private sealed class Call
    {
        private readonly CancellationToken _caller;
        private readonly CancellationTokenSource _source;
        private readonly bool _hasDeadline;
        private Status _status;
        private Metadata _trailers = [];

        public Call(CallOptions options)
        {
            _caller = options.CancellationToken;
            _source = CancellationTokenSource.CreateLinkedTokenSource(_caller);
            if (options.Deadline is { } deadline && deadline != DateTime.MaxValue)
            {
                _hasDeadline = true;
                _source.CancelAfter(Until(deadline));
            }
        }

        public CancellationToken Token => _source.Token;

        public Status GetStatus() => _status;

        public Metadata GetTrailers() => _trailers;

        public void Cancel()
        {
            try
            {
                _source.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The call had already ended.
            }
        }

        public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> handler, InProcessInference owner)
        {
            try
            {
                var result = await handler(Token);
                Succeeded();
                return result;
            }
            catch (Exception e)
            {
                throw Failed(e, owner);
            }
            finally
            {
                _source.Dispose();
            }
        }

        public void Succeeded() => _status = Status.DefaultSuccess;

        /// <summary>The exception a remote call would have raised for this failure, recorded as the call's status.</summary>
        public RpcException Failed(Exception e, InProcessInference owner)
        {
            var failure = e switch
            {
                _ when _caller.IsCancellationRequested => new RpcException(new Status(StatusCode.Cancelled, "Call canceled by the client.")),
                _ when _hasDeadline && _source.IsCancellationRequested => new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded")),
                RpcException rpc => rpc,
                _ => null,
            };
            if (failure is null)
            {
                owner.Unexpected(e);
                failure = new RpcException(new Status(StatusCode.Unknown, "Exception was thrown by handler."));
            }

            (_status, _trailers) = (failure.Status, failure.Trailers);
            return failure;
        }

        public void Dispose() => _source.Dispose();

        private static TimeSpan Until(DateTime deadline)
        {
            var left = deadline.ToUniversalTime() - DateTime.UtcNow;
            return left <= TimeSpan.Zero ? TimeSpan.Zero : left;
        }
    }

    /// <summary>The answer's chunks as the generated client reads a server stream; disposing it cancels the generation.</summary>
    private sealed class ChunkReader<T>(Call call, Func<CancellationToken, IAsyncEnumerable<GenerateChunk>> open, InProcessInference owner) : IAsyncStreamReader<T>
    {
        private IAsyncEnumerator<GenerateChunk>? _chunks;
        private int _disposed;

        public T Current { get; private set; } = default!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            using var reading = cancellationToken.Register(call.Cancel);
            try
            {
                _chunks ??= open(call.Token).GetAsyncEnumerator(call.Token);
                if (await _chunks.MoveNextAsync())
                {
                    Current = (T)(object)_chunks.Current;
                    return true;
                }

                call.Succeeded();
                call.Dispose();
                return false;
            }
            catch (Exception e)
            {
                var failure = cancellationToken.IsCancellationRequested
                    ? new RpcException(new Status(StatusCode.Cancelled, "Call canceled by the client."))
                    : call.Failed(e, owner);

                // The generation has ended either way: its deadline timer need not wait for the caller's dispose.
                call.Dispose();
                throw failure;
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1)
            {
                return;
            }

            call.Cancel();
            if (_chunks is null)
            {
                call.Dispose();
                return;
            }

            _ = DisposeChunksAsync(_chunks);
        }

        private async Task DisposeChunksAsync(IAsyncEnumerator<GenerateChunk> chunks)
        {
            try
            {
                await chunks.DisposeAsync();
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException)
            {
                // The generation was cancelled on purpose; how it stopped does not matter.
            }
            finally
            {
                call.Dispose();
            }
        }
    }
}
