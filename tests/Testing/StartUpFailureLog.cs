using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Router.Testing;

/// <summary>
/// Why a host under <c>WebApplicationFactory</c> failed to start. The factory can lose the cause: when the
/// app's own <c>Run()</c> fails its start-up validation and disposes the host before the factory subscribes
/// to the host's lifetime, the factory throws ObjectDisposedException instead (it happened once in CI).
/// The host logs the cause before it rethrows, so the failure is read from the log as well.
/// </summary>
public sealed class StartUpFailureLog : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<Exception> _logged = new();

    public void AddTo(IWebHostBuilder builder) => builder.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(this));

    /// <summary>Runs what starts the host, expects it to throw, and returns every exception it threw or logged.</summary>
    public string FailureOf(Action start)
    {
        var thrown = Assert.ThrowsAny<Exception>(start);
        return string.Join(Environment.NewLine, [thrown.ToString(), .. _logged.Select(e => e.ToString())]);
    }

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (exception is not null && IsEnabled(logLevel))
        {
            _logged.Enqueue(exception);
        }
    }

    public void Dispose()
    {
    }
}
