using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Ledger;

namespace Router.ClassifierService;

internal static class Extensions
{
    public static void AddClassifierService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddGrpc(options => options.ApplyMessageLimits());
        builder.Services.AddOptions<ClassifierOptions>()
            .Bind(builder.Configuration.GetSection(ClassifierOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ClassifierOptions>, ClassifierOptionsValidator>();

        // Stored classifiers are read from the ledger when there is one; a model file needs none.
        if (builder.Configuration.GetConnectionString("ledger") is { Length: > 0 } ledger)
        {
            builder.Services.AddLedger(ledger);
        }

        builder.Services.AddSingleton<ClassifierModel>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ClassifierModel>());
    }
}
