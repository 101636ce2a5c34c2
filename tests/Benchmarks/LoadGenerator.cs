using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Router.Benchmarks;

/// <summary>
/// One thing the load generator calls: where, with which headers, the JSON body of the n-th
/// request (every n distinct, so no cache can answer), and what a correct answer looks like
/// beyond a 200 (null when it is right, else what is wrong with it).
/// </summary>
public sealed record LoadTarget(
    string Name,
    Uri Endpoint,
    IReadOnlyDictionary<string, string> Headers,
    Func<long, string> Body,
    Func<HttpResponseMessage, string?> Check);

/// <summary>What a closed-loop run measured.</summary>
public sealed record LoadResult(LatencyStats Latency, int Completed, int Errors, TimeSpan Elapsed, string? FirstError)
{
    public double RequestsPerSecond => Completed / Elapsed.TotalSeconds;
}

/// <summary>
/// A closed-loop load generator: c callers, each sending its next request as soon as the previous
/// answer is read, over HTTP/1.1 keep-alive connections (one per caller), for a fixed time. The same
/// generator drives every target, so the figures differ only by what answers.
/// </summary>
public sealed class LoadGenerator : IDisposable
{
    private long _sequence;
    private readonly HttpClient _http;

    public LoadGenerator(int maxConcurrency)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConcurrency,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public async Task<LoadResult> RunAsync(LoadTarget target, int concurrency, TimeSpan duration, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var errors = 0;
        string? firstError = null;
        var callers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            var samples = new List<double>(4096);
            while (clock.Elapsed < duration)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var started = Stopwatch.GetTimestamp();
                var error = await CallAsync(target, cancellationToken);
                samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (error is not null)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, error, null);
                }
            }

            return samples;
        });
        var all = (await Task.WhenAll(callers)).SelectMany(s => s).ToList();
        return new LoadResult(LatencyStats.From(all), all.Count, errors, clock.Elapsed, firstError);
    }

    /// <summary>One request, numbered across the whole run so no two are alike; null when the answer is right, else what went wrong.</summary>
    public async Task<string?> CallAsync(LoadTarget target, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Endpoint)
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(target.Body(Interlocked.Increment(ref _sequence)))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in target.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                return $"{(int)response.StatusCode}: {(body.Length > 300 ? body[..300] : body)}";
            }

            return target.Check(response);
        }
        catch (HttpRequestException e)
        {
            return e.Message;
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return $"timed out: {e.Message}";
        }
    }

    public void Dispose() => _http.Dispose();
}
