using System.CommandLine;
using Router.Cli.Commands;
using Spectre.Console;

// Tables piped to a file or CI log keep their columns instead of wrapping at 80.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Profile.Width = 240;
}

var root = new RootCommand("Offline tools of the confidence-driven LLM router: inspect traces, evaluate, calibrate, fit, train.")
{
    TracesCommand.Create(),
    EvalCommand.Create(),
    CalibrateCommand.Create(),
    PolicyCommand.Create(),
    ClassifierCommand.Create(),
    LedgerCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
