using Router.Ledger.Recording;

namespace Router.Ledger.Tests;

/// <summary>fsync that fails like a disk returning EIO while <see cref="Failing"/> is set (also compiled into Gateway.Tests).</summary>
internal sealed class FailingFlush : IDurableFlush
{
    public volatile bool Failing;

    public void FlushToDisk(FileStream file)
    {
        if (Failing)
        {
            throw new IOException("Input/output error");
        }

        file.Flush(flushToDisk: true);
    }
}
