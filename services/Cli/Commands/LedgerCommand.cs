using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Router.Ledger;
using Router.Ledger.Recording;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router ledger dead-letters list|show|replay|discard --connection CS`: the journal lines the Gateway set aside.</summary>
internal static class LedgerCommand
{
    public static Command Create()
    {
        var connection = new Option<string>("--connection") { Description = "PostgreSQL connection string of the ledger", Required = true };

        var all = new Option<bool>("--all") { Description = "also those already replayed or discarded" };
        var limit = new Option<int>("--limit") { Description = "at most this many", DefaultValueFactory = _ => 100 };
        var list = new Command("list", "The set-aside lines, oldest first: why each was refused and where it was") { connection, all, limit };
        list.SetAction((parse, cancellationToken) => WithStoreAsync(parse.GetRequiredValue(connection), async store =>
        {
            var letters = await store.ListAsync(parse.GetValue(all), parse.GetValue(limit), cancellationToken);
            var table = new Table().AddColumns("id", "set aside at", "kind", "request", "SQLSTATE", "error", "source", "resolved");
            foreach (var letter in letters)
            {
                table.AddRow(
                    letter.Id.ToString(Format.Culture),
                    letter.SetAsideAt.ToString("u", Format.Culture),
                    letter.Kind,
                    Markup.Escape(letter.RequestId ?? string.Empty),
                    letter.SqlState ?? string.Empty,
                    Markup.Escape(DeadLetter.Clean(letter.Error, 100)),
                    Markup.Escape(letter.Source),
                    letter.Resolution is null ? string.Empty : $"{letter.Resolution} {letter.ResolvedAt:u}");
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine(letters.Count == 0 ? "No dead letters." : $"{letters.Count} dead letters.");
            return 0;
        }));

        var id = new Argument<long>("id") { Description = "the dead letter's id (from list)" };
        var show = new Command("show", "Writes the set-aside journal line to standard output, byte for byte") { id, connection };
        show.SetAction((parse, cancellationToken) => WithStoreAsync(parse.GetRequiredValue(connection), async store =>
        {
            if (await store.FindAsync(parse.GetValue(id), cancellationToken) is not { } letter)
            {
                AnsiConsole.MarkupLine($"[red]No dead letter {parse.GetValue(id)}.[/]");
                return 2;
            }

            await using var output = Console.OpenStandardOutput();
            await output.WriteAsync(letter.Line, cancellationToken);
            await output.WriteAsync("\n"u8.ToArray(), cancellationToken);
            return 0;
        }));

        var only = new Option<long?>("--id") { Description = "replay only this one" };
        var replay = new Command("replay", "Writes the unresolved lines to the ledger again (after fixing what refused them); those that land are marked replayed") { connection, only };
        replay.SetAction((parse, cancellationToken) => WithStoreAsync(parse.GetRequiredValue(connection), async store =>
        {
            var outcomes = await store.ReplayAsync(parse.GetValue(only), cancellationToken);
            var table = new Table().AddColumns("id", "request", "outcome");
            foreach (var outcome in outcomes)
            {
                table.AddRow(
                    outcome.Id.ToString(Format.Culture),
                    Markup.Escape(outcome.RequestId ?? string.Empty),
                    outcome.Written ? "[green]written[/]" : $"[red]still refused:[/] {Markup.Escape(DeadLetter.Clean(outcome.Error ?? string.Empty, 160))}");
            }

            AnsiConsole.Write(table);
            var written = outcomes.Count(o => o.Written);
            AnsiConsole.MarkupLine($"{written} of {outcomes.Count} written.");
            return written == outcomes.Count ? 0 : 1;
        }));

        var discard = new Command("discard", "Marks a dead letter as one that will never be a row (it is kept, resolved)") { id, connection };
        discard.SetAction((parse, cancellationToken) => WithStoreAsync(parse.GetRequiredValue(connection), async store =>
        {
            if (!await store.DiscardAsync(parse.GetValue(id), cancellationToken))
            {
                AnsiConsole.MarkupLine($"[red]No unresolved dead letter {parse.GetValue(id)}.[/]");
                return 2;
            }

            AnsiConsole.MarkupLine($"Dead letter {parse.GetValue(id)} discarded.");
            return 0;
        }));

        var deadLetters = new Command("dead-letters", "Journal lines the Gateway set aside because PostgreSQL refused them or they were unreadable")
        {
            list, show, replay, discard,
        };
        return new Command("ledger", "Inspect and repair the ledger") { deadLetters };
    }

    private static async Task<int> WithStoreAsync(string connection, Func<DeadLetterStore, Task<int>> action)
    {
        await using var services = new ServiceCollection().AddLedgerWriting(connection).BuildServiceProvider();
        await services.MigrateLedgerAsync();
        return await action(services.GetRequiredService<DeadLetterStore>());
    }
}
