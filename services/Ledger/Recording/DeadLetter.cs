using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Router.Ledger.Recording;

/// <summary>
/// A journal line the shipper set aside so that it could not block the rows behind it: PostgreSQL
/// refused the request it holds (a data or constraint error), or the line could not be read as a
/// request (torn or corrupted on disk). The raw line is kept byte for byte, so nothing is lost and
/// a fixed schema can replay it (`router ledger dead-letters replay`).
/// </summary>
public sealed class DeadLetter
{
    public long Id { get; set; }

    public DateTimeOffset SetAsideAt { get; set; }

    /// <summary><see cref="DeadLetterKinds.Rejected"/> or <see cref="DeadLetterKinds.Unreadable"/>.</summary>
    public required string Kind { get; set; }

    /// <summary>Where the line was: journal folder, segment file and byte offset.</summary>
    public required string Source { get; set; }

    /// <summary>The request id when the line could be read (display only: cleaned of what PostgreSQL refuses).</summary>
    public string? RequestId { get; set; }

    /// <summary>PostgreSQL's SQLSTATE when it refused the row (22001 value too long, 22021 NUL byte, ...).</summary>
    public string? SqlState { get; set; }

    public required string Error { get; set; }

    /// <summary>The journal line exactly as it was on disk (bytea: PostgreSQL accepts any bytes).</summary>
    public required byte[] Line { get; set; }

    /// <summary>SHA-256 of <see cref="Line"/>: a line set aside twice (a crash before the checkpoint moved) is kept once.</summary>
    public required byte[] LineSha256 { get; set; }

    /// <summary>When an operator replayed or discarded it; the Gateway is Degraded while any is unresolved.</summary>
    public DateTimeOffset? ResolvedAt { get; set; }

    /// <summary><see cref="DeadLetterResolutions.Replayed"/> or <see cref="DeadLetterResolutions.Discarded"/> once resolved.</summary>
    public string? Resolution { get; set; }

    /// <summary>A journal line PostgreSQL refused to take as a request.</summary>
    public static DeadLetter Rejected(string source, JournalEntry entry, Exception error, DateTimeOffset at) =>
        New(DeadLetterKinds.Rejected, source, entry, (error as PostgresException)?.SqlState, error.Message, at);

    /// <summary>A journal line that is not a request (torn or corrupted).</summary>
    public static DeadLetter Unreadable(string source, JournalEntry entry, DateTimeOffset at) =>
        New(DeadLetterKinds.Unreadable, source, entry, null, entry.ReadError ?? "unreadable", at);

    private static DeadLetter New(string kind, string source, JournalEntry entry, string? sqlState, string error, DateTimeOffset at) => new()
    {
        SetAsideAt = at,
        Kind = kind,
        Source = Clean(source, 1000),
        RequestId = entry.Request is { } request ? Clean(request.Id, 200) : null,
        SqlState = sqlState,
        Error = Clean(error, 2000),
        Line = entry.Line,
        LineSha256 = SHA256.HashData(entry.Line),
    };

    /// <summary>One line for logs and health: which request (or where the unreadable line was) and why.</summary>
    public string Describe() => Describe(Kind, RequestId, Source, Error);

    public static string Describe(string kind, string? requestId, string source, string error) => kind == DeadLetterKinds.Rejected
        ? $"request {Clean(requestId ?? "?", 80)} refused ({error})"
        : $"unreadable line at {source} ({error})";

    /// <summary>
    /// Text PostgreSQL always accepts, so setting a row aside cannot fail the way the row did: no
    /// NUL, valid UTF-16 (lone surrogates become U+FFFD), at most <paramref name="maxLength"/> characters.
    /// </summary>
    public static string Clean(string text, int maxLength)
    {
        var valid = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text.Replace("\0", string.Empty, StringComparison.Ordinal)));
        if (valid.Length <= maxLength)
        {
            return valid;
        }

        var cut = char.IsHighSurrogate(valid[maxLength - 1]) ? maxLength - 1 : maxLength;
        return valid[..cut] + "…";
    }
}

public static class DeadLetterKinds
{
    public const string Rejected = "rejected";
    public const string Unreadable = "unreadable";
}

public static class DeadLetterResolutions
{
    public const string Replayed = "replayed";
    public const string Discarded = "discarded";
}

/// <summary>
/// The one row that names this ledger database. Journals record it once they have shipped to it,
/// so a Gateway adopts another instance's left-over journal only when both write to the same
/// ledger, never into a different database that happens to be reachable under the same name.
/// </summary>
public sealed class LedgerIdentity
{
    public Guid Id { get; set; }
}
