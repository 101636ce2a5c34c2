using System.Diagnostics;
using Npgsql;

namespace Router.LocalServers;

/// <summary>
/// A private PostgreSQL instance started from the machine's server binaries: its own data
/// folder, a free loopback port, password authentication, run as the 'postgres' user when we are
/// root (initdb refuses root). The process is our child and stops with us.
/// </summary>
public sealed class LocalPostgresServer : IAsyncDisposable
{
    private const string SuperUser = PostgresInstallation.SuperUser;
    private readonly string _binDirectory;
    private readonly string _dataDirectory;
    private readonly bool _durable;
    private readonly Action<string> _log;
    private ChildProcess? _process;

    private LocalPostgresServer(string binDirectory, string dataDirectory, int port, string password, bool durable, Action<string> log)
    {
        _binDirectory = binDirectory;
        _dataDirectory = dataDirectory;
        Port = port;
        Password = password;
        _durable = durable;
        _log = log;
    }

    public int Port { get; }

    public string Password { get; }

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public ChildProcess? Process => _process;

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Password = Password,
        Database = database,
    }.ConnectionString;

    /// <summary>Creates the data folder (under <paramref name="stateDirectory"/>), starts the server and waits until it accepts connections.</summary>
    /// <param name="durable">false for tests: no fsync, which makes start and writes several times faster.</param>
    public static Task<LocalPostgresServer> StartAsync(
        string stateDirectory, Action<string> log, bool durable = true, CancellationToken cancellationToken = default) =>
        StartAsync(stateDirectory, log, durable, FreePort.Next, cancellationToken);

    internal static async Task<LocalPostgresServer> StartAsync(
        string stateDirectory, Action<string> log, bool durable, Func<int> ports, CancellationToken cancellationToken)
    {
        var binDirectory = await PostgresInstallation.RequireBinDirectoryAsync("ConnectionStrings__ledger", log, cancellationToken);
        var dataDirectory = Path.Combine(PostgresInstallation.PrepareStateDirectory(stateDirectory), $"postgres-{Guid.NewGuid():N}");
        var password = PostgresInstallation.NewPassword();
        await PostgresInstallation.InitializeDataDirectoryAsync(binDirectory, dataDirectory, password, cancellationToken);
        return await FreePort.StartServerAsync(
            ports,
            port => new LocalPostgresServer(binDirectory, dataDirectory, port, password, durable, log),
            server => server.StartAsync(cancellationToken),
            server => server.StopAsync());
    }

    /// <summary>Starts the server again on the same port and data (after <see cref="StopAsync"/> or a crash).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_process is { HasExited: false })
        {
            return;
        }

        List<string> arguments =
        [
            "-D", _dataDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-h", "127.0.0.1", "-k", _dataDirectory, "-c", "max_connections=200",
        ];
        if (!_durable)
        {
            arguments.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }

        var (file, args) = PostgresInstallation.AsServerUser(Path.Combine(_binDirectory, "postgres"), arguments);
        _process = ChildProcess.Start(file, args, stopSignal: NativeMethods.SIGINT, outputLine: line => _log(line));
        await WaitUntilReadyAsync(cancellationToken);
    }

    /// <summary>Fast shutdown: open sessions are ended, the data stays for a later <see cref="StartAsync(CancellationToken)"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(15));
            await _process.DisposeAsync();
            _process = null;
        }
    }

    public async Task CreateDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
        {
            return;
        }

        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover folder under the state directory is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new ServerUnavailableException(
                    $"PostgreSQL exited with code {await _process.Exited} while starting:{Environment.NewLine}{string.Join(Environment.NewLine, _process.Tail)}");
            }

            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false;Timeout=2");
                await connection.OpenAsync(cancellationToken);
                return;
            }
            catch (NpgsqlException) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }
}
