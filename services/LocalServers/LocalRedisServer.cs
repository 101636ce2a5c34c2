using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Router.LocalServers;

/// <summary>A private Redis from the machine's redis-server: loopback only, no persistence, our child process.</summary>
public sealed class LocalRedisServer : IAsyncDisposable
{
    private readonly string _binary;
    private readonly Action<string> _log;
    private ChildProcess? _process;

    private LocalRedisServer(string binary, int port, Action<string> log)
    {
        _binary = binary;
        Port = port;
        _log = log;
    }

    public int Port { get; }

    /// <summary>StackExchange.Redis configuration string, the form Aspire passes as ConnectionStrings__cache.</summary>
    public string ConnectionString => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public ChildProcess? Process => _process;

    public static Task<LocalRedisServer> StartAsync(Action<string> log, CancellationToken cancellationToken = default) =>
        StartAsync(log, FreePort.Next, cancellationToken);

    internal static async Task<LocalRedisServer> StartAsync(Action<string> log, Func<int> ports, CancellationToken cancellationToken)
    {
        var binary = await ServerPackages.RequireAsync(
            "Redis", "redis-server", () => ServerPackages.FindOnPath("redis-server"), "ConnectionStrings__cache", log, cancellationToken);
        return await FreePort.StartServerAsync(
            ports,
            port => new LocalRedisServer(binary, port, log),
            server => server.StartAsync(cancellationToken),
            server => server.StopAsync());
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_process is { HasExited: false })
        {
            return;
        }

        _process = ChildProcess.Start(
            _binary,
            ["--bind", "127.0.0.1", "--port", Port.ToString(CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
            workingDirectory: Path.GetTempPath(),
            outputLine: line => _log(line));
        await WaitUntilReadyAsync(cancellationToken);
    }

    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(10));
            await _process.DisposeAsync();
            _process = null;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new ServerUnavailableException(
                    $"redis-server exited with code {await _process.Exited} while starting:{Environment.NewLine}{string.Join(Environment.NewLine, _process.Tail)}");
            }

            if (await PingAsync(cancellationToken))
            {
                return;
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new ServerUnavailableException($"redis-server did not answer PING on port {Port} within 30 s.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// One PING with a short wait for its answer: the port may be held by another process that never
    /// answers (our server then exits, which the caller's next look sees).
    /// </summary>
    private async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, attempt.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), attempt.Token);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, attempt.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
