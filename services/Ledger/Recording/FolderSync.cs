using System.Runtime.InteropServices;

namespace Router.Ledger.Recording;

/// <summary>
/// fsync of a folder, which makes the names in it durable: a file created, renamed or moved into it
/// survives a power cut only once its folder is flushed (POSIX; ext4 happens to commit the name with
/// the file's own fsync, other file systems do not). .NET opens no handle to a folder, so this calls
/// libc. On Windows it does nothing: NTFS journals its names, and a folder handle there needs
/// backup semantics that .NET does not ask for.
/// </summary>
public static partial class FolderSync
{
    private const int ReadOnly = 0;

    /// <summary>Makes the names in <paramref name="folder"/> durable; throws <see cref="IOException"/> when the folder cannot be opened or flushed.</summary>
    public static void Flush(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var descriptor = Open(folder, ReadOnly);
        if (descriptor < 0)
        {
            throw Failure("open", folder);
        }

        try
        {
            if (Fsync(descriptor) != 0)
            {
                throw Failure("fsync", folder);
            }
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    private static IOException Failure(string call, string folder) =>
        new($"Could not {call} the folder '{folder}' to make its file names durable: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
