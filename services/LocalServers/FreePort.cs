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

    /// <summary>A loopback port that nothing listens on right now (the OS picks it).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
