extern alias worker;

using Router.Contracts;
using Router.Testing;

namespace Router.Gateway.Tests;

/// <summary>A real InferenceWorker with the simulated backend, answering at once, for a Gateway test that needs an answer.</summary>
public sealed class SimulatedWorker(string model) : GrpcServiceFactory<worker::Program>(new Dictionary<string, string?>
{
    ["Worker:Model"] = model,
    ["Worker:Backend"] = "simulated",
    ["Worker:SimulateLatency"] = "false",
})
{
    /// <summary>The Gateway setting that routes the model's stage to this worker.</summary>
    public KeyValuePair<string, string?> Route => new(ServiceNames.GrpcAddressKey(ServiceNames.Worker(model)), Address.ToString());
}
