using Xunit.Abstractions;
using Xunit.Sdk;

namespace Router.AppHost.Tests;

/// <summary>
/// Runs a class's facts in the order they are written: they share one running system, and the
/// last ones freeze and kill workers.
/// </summary>
public sealed class DeclarationOrder : ITestCaseOrderer
{
    public const string TypeName = "Router.AppHost.Tests.DeclarationOrder";
    public const string AssemblyName = "AppHost.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(test => test.TestMethod.Method.ToRuntimeMethod().MetadataToken);
}
