using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;
using Router.Testing;
using Xunit;

namespace Router.LocalServers.Tests;

public sealed class LocalServerTests
{
    [Fact]
    public async Task Postgres_accepts_the_password_keeps_data_across_a_restart_and_leaves_nothing_listening()
    {
        var server = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        var port = server.Port;
        try
        {
            await server.CreateDatabaseAsync("kept");
            await ExecuteAsync(server.ConnectionString("kept"), "CREATE TABLE t (v int); INSERT INTO t VALUES (42);");

            await server.StopAsync();
            Assert.False(FreePort.IsListening(port));
            await server.StartAsync();
            NpgsqlConnection.ClearAllPools();

            Assert.Equal(42, await ScalarAsync(server.ConnectionString("kept"), "SELECT v FROM t"));
            var wrongPassword = new NpgsqlConnectionStringBuilder(server.ConnectionString("kept")) { Password = "wrong" }.ConnectionString;
            await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(wrongPassword, "SELECT 1"));
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.False(FreePort.IsListening(port));
    }

    [Fact]
    public async Task Redis_answers_on_loopback_and_stops_with_its_owner()
    {
        var server = await LocalRedisServer.StartAsync(_ => { });
        var port = server.Port;
        try
        {
            Assert.Equal("+PONG", await SendAsync(port, "PING"));
            Assert.Equal("+OK", await SendAsync(port, "SET key value"));
            Assert.Equal($"127.0.0.1:{port}", server.ConnectionString);
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.False(FreePort.IsListening(port));
    }

    [Fact]
    public async Task Postgres_that_finds_its_port_taken_starts_on_another()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();

        var server = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false, PortsStartingWith(taken), CancellationToken.None);
        try
        {
            Assert.NotEqual(((IPEndPoint)taken.LocalEndpoint).Port, server.Port);
            Assert.Equal(1, await ScalarAsync(server.ConnectionString("postgres"), "SELECT 1"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Redis_that_finds_its_port_taken_starts_on_another()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();

        var server = await LocalRedisServer.StartAsync(_ => { }, PortsStartingWith(taken), CancellationToken.None);
        try
        {
            Assert.NotEqual(((IPEndPoint)taken.LocalEndpoint).Port, server.Port);
            Assert.Equal("+PONG", await SendAsync(server.Port, "PING"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public void Picked_ports_lie_below_the_kernels_range_for_port_0_and_outgoing_connections_and_are_free()
    {
        var start = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < 20; i++)
        {
            var port = FreePort.Next();
            Assert.InRange(port, Math.Max(1024, start - 10_000), start - 1);
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }

    /// <summary>The port another process took between our pick and our server's bind, then free ones.</summary>
    private static Func<int> PortsStartingWith(TcpListener taken)
    {
        var given = 0;
        return () => given++ == 0 ? ((IPEndPoint)taken.LocalEndpoint).Port : FreePort.Next();
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<int> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<string> SendAsync(int port, string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read).TrimEnd();
    }
}
