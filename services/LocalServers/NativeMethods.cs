using System.Runtime.InteropServices;

namespace Router.LocalServers;

internal static partial class NativeMethods
{
    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();

    public static bool IsRoot => OperatingSystem.IsLinux() && GetEffectiveUserId() == 0;
}
