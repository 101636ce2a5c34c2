namespace Router.AppHost.Hosting;

/// <summary>Serialises lines from every resource onto the console, each prefixed with its resource name.</summary>
internal static class ConsoleLog
{
    private static readonly Lock Gate = new();

    public static void Line(string resource, string text)
    {
        lock (Gate)
        {
            Console.Out.WriteLine($"[{resource}] {text}");
        }
    }

    public static void Host(string text) => Line("apphost", text);

    public static Action<string> For(string resource) => text => Line(resource, text);
}
