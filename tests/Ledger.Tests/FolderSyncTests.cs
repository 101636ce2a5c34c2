using Router.Ledger.Recording;
using Xunit;

namespace Router.Ledger.Tests;

public sealed class FolderSyncTests
{
    [Fact]
    public void A_folder_with_a_new_file_in_it_is_flushed()
    {
        var folder = Directory.CreateTempSubdirectory("folder-sync-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "segment"), "line\n");

            FolderSync.Flush(folder);

            Assert.True(File.Exists(Path.Combine(folder, "segment")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_folder_that_cannot_be_opened_is_an_io_error_naming_it_and_why()
    {
        var missing = Path.Combine(Path.GetTempPath(), "folder-sync-missing-" + Guid.NewGuid().ToString("N"));

        var error = Assert.Throws<IOException>(() => FolderSync.Flush(missing));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", error.Message, StringComparison.Ordinal);
    }
}
