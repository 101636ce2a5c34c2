using System.Text;

namespace Router.Domain.Traces;

/// <summary>RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.</summary>
public static class CsvReader
{
    public static IEnumerable<string[]> ReadRows(TextReader reader)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var inQuotes = false;
        var any = false;
        int c;
        while ((c = reader.Read()) != -1)
        {
            any = true;
            var ch = (char)c;
            if (inQuotes)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        field.Append('"');
                        reader.Read();
                    }
                    else
                    {
                        inQuotes = false;
                    }
                }
                else
                {
                    field.Append(ch);
                }

                continue;
            }

            switch (ch)
            {
                case '"':
                    inQuotes = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    fields.Add(field.ToString());
                    field.Clear();
                    yield return [.. fields];
                    fields.Clear();
                    any = false;
                    break;
                default:
                    field.Append(ch);
                    break;
            }
        }

        if (inQuotes)
        {
            throw new FormatException("CSV ends inside a quoted field.");
        }

        if (any)
        {
            fields.Add(field.ToString());
            yield return [.. fields];
        }
    }

    /// <summary>Rows as name-to-value maps keyed by the header row; a missing required column throws naming it.</summary>
    public static IEnumerable<CsvRow> ReadWithHeader(TextReader reader, params string[] requiredColumns)
    {
        using var rows = ReadRows(reader).GetEnumerator();
        if (!rows.MoveNext())
        {
            yield break;
        }

        var header = rows.Current.Select((name, index) => (name, index)).ToDictionary(x => x.name.Trim(), x => x.index, StringComparer.Ordinal);
        var missing = requiredColumns.Where(column => !header.ContainsKey(column)).ToList();
        if (missing.Count > 0)
        {
            throw new FormatException($"CSV header lacks column(s): {string.Join(", ", missing)}.");
        }

        var line = 1;
        while (rows.MoveNext())
        {
            line++;
            if (rows.Current is [""])
            {
                continue;
            }

            yield return new CsvRow(header, rows.Current, line);
        }
    }
}

public sealed class CsvRow(IReadOnlyDictionary<string, int> header, string[] values, int row)
{
    public int Row { get; } = row;

    public string this[string column] =>
        header.TryGetValue(column, out var index) && index < values.Length
            ? values[index]
            : throw new FormatException($"CSV row {Row}: no value for column '{column}'.");
}
