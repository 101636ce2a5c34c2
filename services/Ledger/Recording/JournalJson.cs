using System.Text.Json;
using System.Text.Json.Serialization;
using Router.Ledger.Requests;

namespace Router.Ledger.Recording;

/// <summary>The journal's JSON, generated at build time: every request is written once on the request path.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(RoutedRequest))]
[JsonSerializable(typeof(JournalBinding))]
internal sealed partial class JournalJson : JsonSerializerContext;
