using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<PostgresFixture>, ICollectionFixture<RedisFixture>
{
    public const string Name = "servers";
}
