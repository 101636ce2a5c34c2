using System.Net;
using System.Net.Sockets;

namespace Router.LocalServers;

public static class FreePort
{
    private const int MaxStarts = 5;

    /// <summary>
    /// Starts a server on a port from <paramref name="ports"/>. A port is free when picked but not held
    /// (the server binds it later, and an outgoing connection or another process's listener can take
    /// it first), so a start that the server refused with "Address already in use" is released and
    /// made again on another port.
    /// </summary>
    /// <param name="ports">Where the ports come from: <see cref="Next"/>, or in a test one that is taken first.</param>
    internal static async Task<T> StartServerAsync<T>(Func<int> ports, Func<int, T> create, Func<T, Task> start, Func<T, Task> release)
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = create(ports());
            try
            {
                await start(server);
                return server;
            }
            catch (ServerUnavailableException e) when (attempt < MaxStarts && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                await release(server);
            }
        }
    }

    /// <summary>
    /// A loopback port that nothing listens on right now, drawn from the ten thousand ports below the
    /// range the kernel hands out for port 0 and outgoing connections (ip_local_port_range): between
    /// this pick and the server's bind, no outgoing connection and no listener on port 0 can take it.
    /// Where that range cannot be read, the OS picks.
    /// </summary>
    public static int Next()
    {
        if (EphemeralRangeStart() is { } start)
        {
            var floor = Math.Max(1024, start - 10_000);
            for (var i = 0; i < 100 && floor < start; i++)
            {
                var port = Random.Shared.Next(floor, start);
                if (CanBind(port))
                {
                    return port;
                }
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int? EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return range.Length > 0 && int.TryParse(range[0], System.Globalization.CultureInfo.InvariantCulture, out var start) ? start : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static bool IsListening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
