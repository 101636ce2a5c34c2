using System.Diagnostics;
using Npgsql;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>The ledger's requests table as a test waits for it: rows are shipped from the journal in the background.</summary>
public static class LedgerRows
{
    /// <summary>Waits until the requests table holds at least <paramref name="expected"/> rows; returns the rows and distinct ids.</summary>
    public static async Task<(long Rows, long Distinct)> WaitForAsync(string ledger, long expected)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ledger);
                await connection.OpenAsync();
                await using var count = new NpgsqlCommand("SELECT count(*), count(DISTINCT id) FROM requests", connection);
                await using var reader = await count.ExecuteReaderAsync();
                await reader.ReadAsync();
                var result = (reader.GetInt64(0), reader.GetInt64(1));
                if (result.Item1 >= expected)
                {
                    return result;
                }
            }
            catch (NpgsqlException)
            {
                // Not migrated yet, or a pooled connection from before the restart: ask again.
                NpgsqlConnection.ClearAllPools();
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"the ledger did not reach {expected} rows");
            await Task.Delay(200);
        }
    }
}
