using Microsoft.Extensions.DependencyInjection;
using Router.Testing;
using Xunit;

namespace Router.Ledger.Tests;

public sealed class ArtifactStoreTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Versions_count_up_per_kind_and_name_and_old_versions_stay_readable()
    {
        var store = await NewStoreAsync();

        var first = await store.SaveNewVersionAsync(ArtifactKinds.Calibrator, "llama3.1-8b", """{"a":1}""", """{"file":"x"}""");
        var second = await store.SaveNewVersionAsync(ArtifactKinds.Calibrator, "llama3.1-8b", """{"a":2}""", """{"file":"y"}""");
        var other = await store.SaveNewVersionAsync(ArtifactKinds.Policy, "llama3.1-8b", """{"p":1}""", "{}");

        Assert.Equal((1, 2, 1), (first.Version, second.Version, other.Version));
        Assert.Equal(2, (await store.GetLatestAsync(ArtifactKinds.Calibrator, "llama3.1-8b"))!.Version);
        Assert.Equal("""{"a": 1}""", (await store.GetAsync(ArtifactKinds.Calibrator, "llama3.1-8b", 1))!.Payload);
        Assert.Null(await store.GetLatestAsync(ArtifactKinds.Classifier, "llama3.1-8b"));
    }

    [Fact]
    public async Task Concurrent_writers_get_distinct_versions()
    {
        var store = await NewStoreAsync();

        var saved = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            store.SaveNewVersionAsync(ArtifactKinds.Policy, "auto", $$"""{"i":{{i}}}""", "{}")));

        Assert.Equal(Enumerable.Range(1, 8), saved.Select(a => a.Version).Order());
        var latest = await store.GetLatestOfKindAsync(ArtifactKinds.Policy);
        Assert.Equal(8, Assert.Single(latest).Version);
    }

    private async Task<ArtifactStore> NewStoreAsync()
    {
        var services = new ServiceCollection().AddLedger(await postgres.CreateDatabaseAsync("ledger")).BuildServiceProvider();
        await services.MigrateLedgerAsync();
        return services.GetRequiredService<ArtifactStore>();
    }
}
