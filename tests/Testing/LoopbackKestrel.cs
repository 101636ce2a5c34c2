namespace Router.Testing;

/// <summary>
/// How test hosts get a free loopback port. The port goes into the host's own configuration
/// (the `urls` setting) and the factory is started with a plain UseKestrel(): UseKestrel(0) edits
/// IServerAddressesFeature after the host is built, which races Kestrel's bind in a minimal-API
/// app and fails now and then with "IServerAddressesFeature.Addresses cannot be modified after
/// the server has started" (dotnet/aspnetcore#67714).
/// </summary>
public static class LoopbackKestrel
{
    public const string AnyFreePort = "http://127.0.0.1:0";
}
