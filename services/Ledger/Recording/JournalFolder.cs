using System.Globalization;
using System.Text;
using System.Text.Json;
using Router.Ledger.Requests;

namespace Router.Ledger.Recording;

/// <summary>A position in a journal: a segment and a byte offset in it.</summary>
public readonly record struct JournalPosition(long Segment, long Offset);

/// <summary>One line of a journal: the request it holds, or why it could not be read as one.</summary>
public sealed record JournalEntry(long Segment, long Offset, byte[] Line, RoutedRequest? Request, string? ReadError);

/// <summary>Lines read from a journal, and the position just after them.</summary>
public sealed record JournalBatch(IReadOnlyList<JournalEntry> Entries, JournalPosition End, long Bytes)
{
    public IReadOnlyList<RoutedRequest> Requests => [.. Entries.Where(e => e.Request is not null).Select(e => e.Request!)];
}

/// <summary>A journal the shipper can move into PostgreSQL: the live one of this process, or one it adopted.</summary>
public interface IShippableJournal
{
    /// <summary>The journal folder, named in logs, dead letters and health.</summary>
    string Directory { get; }

    JournalBatch ReadBatch(int maxRows);

    /// <summary>Records that the batch is in PostgreSQL (or set aside): moves the checkpoint and deletes finished segments.</summary>
    void Commit(JournalBatch batch);

    string SegmentPath(long segment);
}

/// <summary>Thrown when another process holds a journal folder's lock.</summary>
public sealed class JournalInUseException(string message, Exception inner) : IOException(message, inner);

/// <summary>
/// A journal folder on disk, held under an exclusive lock while open: numbered segment files of
/// JSON lines, the checkpoint (how far its lines are in PostgreSQL), which ledger its rows are for,
/// and who holds it (so a second process is told whom it collided with).
/// </summary>
internal sealed class JournalFolder : IDisposable
{
    private const string LockFile = "lock";
    private const string OwnerFile = "owner";
    private const string CheckpointFile = "checkpoint";
    private const string BindingFile = "ledger.json";
    private const string SegmentPattern = "*.jsonl";
    /// <summary>How requests are written as journal lines (and read back).</summary>
    public static JsonSerializerOptions Json => JournalJson.Default.Options;

    private readonly FileStream _lock;

    private JournalFolder(string path, FileStream @lock)
    {
        Path = path;
        _lock = @lock;
    }

    public string Path { get; }

    /// <summary>Locks the folder, creating it if needed, or throws naming the process that holds it and the settings that choose it.</summary>
    public static JournalFolder Lock(string path, string settingsHint)
    {
        CreateDurably(path);
        FileStream held;
        try
        {
            held = LockFileOf(path);
        }
        catch (IOException e)
        {
            var holder = ReadOwner(path) is { } owner ? $"by {owner}" : "by another process";
            throw new JournalInUseException(
                $"The ledger journal folder '{path}' is in use {holder}. Each Gateway process needs a journal folder of its own: {settingsHint}",
                e);
        }

        return Held(path, held);
    }

    /// <summary>Locks an existing folder if no live process holds it; null if one does (or the folder is gone).</summary>
    public static JournalFolder? TryLock(string path)
    {
        FileStream held;
        try
        {
            held = LockFileOf(path);
        }
        catch (IOException)
        {
            return null;
        }

        return Held(path, held);
    }

    /// <summary>Creates the folder and makes its name durable in its parent, so the files it will hold cannot lose their way in a power cut.</summary>
    private static void CreateDurably(string path)
    {
        var folder = System.IO.Directory.CreateDirectory(path);
        FolderSync.Flush(folder.Parent?.FullName ?? folder.FullName);
    }

    private static FileStream LockFileOf(string path) =>
        new(System.IO.Path.Combine(path, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

    private static JournalFolder Held(string path, FileStream held)
    {
        File.WriteAllText(
            System.IO.Path.Combine(path, OwnerFile),
            string.Create(CultureInfo.InvariantCulture, $"process {Environment.ProcessId} on {Environment.MachineName} (since {DateTimeOffset.UtcNow:u})"));
        return new JournalFolder(path, held);
    }

    private static string? ReadOwner(string path)
    {
        try
        {
            return File.ReadAllText(System.IO.Path.Combine(path, OwnerFile)).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    public List<long> Segments() =>
        [.. System.IO.Directory.EnumerateFiles(Path, SegmentPattern)
            .Select(p => long.TryParse(System.IO.Path.GetFileNameWithoutExtension(p), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1)
            .Where(n => n >= 0)
            .Order()];

    public string SegmentPath(long segment) => System.IO.Path.Combine(Path, segment.ToString("D12", CultureInfo.InvariantCulture) + ".jsonl");

    public JournalPosition ReadCheckpoint()
    {
        var path = System.IO.Path.Combine(Path, CheckpointFile);
        if (!File.Exists(path))
        {
            return new JournalPosition(1, 0);
        }

        var parts = File.ReadAllText(path).Split(' ');
        return new JournalPosition(long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>Moves the checkpoint (written aside, fsynced, renamed) and deletes segments wholly behind it once the folder holding the new checkpoint is fsynced.</summary>
    public void Commit(JournalPosition checkpoint, long? liveSegment)
    {
        var temporary = System.IO.Path.Combine(Path, CheckpointFile + ".tmp");
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            file.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{checkpoint.Segment} {checkpoint.Offset}")));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, System.IO.Path.Combine(Path, CheckpointFile), overwrite: true);

        // A rename lost in a power cut only leaves the older checkpoint, whose rows ship again and are
        // skipped as present; so the folder is flushed only when a segment behind the new one goes.
        var finished = Segments().Where(s => s < checkpoint.Segment && s != liveSegment).ToList();
        if (finished.Count == 0)
        {
            return;
        }

        FolderSync.Flush(Path);
        foreach (var segment in finished)
        {
            File.Delete(SegmentPath(segment));
        }
    }

    public JournalBinding? ReadBinding()
    {
        var path = System.IO.Path.Combine(Path, BindingFile);
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<JournalBinding>(File.ReadAllBytes(path), Json) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void WriteBinding(JournalBinding binding) =>
        File.WriteAllBytes(System.IO.Path.Combine(Path, BindingFile), JsonSerializer.SerializeToUtf8Bytes(binding, Json));

    /// <summary>
    /// Moves lines not yet in PostgreSQL (with the checkpoint and binding that describe them) into
    /// <paramref name="destination"/>, a new folder the shipper adopts like any dead instance's, and
    /// empties this one. Returns false when there was nothing to move.
    /// </summary>
    public bool HandOverLeftovers(string destination)
    {
        var checkpoint = ReadCheckpoint();
        var leftovers = Segments().Where(s => s >= checkpoint.Segment && DataLength(s) > (s == checkpoint.Segment ? checkpoint.Offset : 0)).ToList();
        if (leftovers.Count > 0)
        {
            CreateDurably(destination);
            using var handedOver = TryLock(destination) ?? throw new IOException($"Could not lock the new journal folder '{destination}'.");
            foreach (var file in new[] { CheckpointFile, BindingFile }.Select(f => System.IO.Path.Combine(Path, f)).Where(File.Exists))
            {
                File.Move(file, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(file)));
            }

            foreach (var segment in leftovers)
            {
                File.Move(SegmentPath(segment), handedOver.SegmentPath(segment));
            }

            FolderSync.Flush(destination);
        }

        foreach (var file in Segments().Select(SegmentPath).Append(System.IO.Path.Combine(Path, CheckpointFile)).Append(System.IO.Path.Combine(Path, BindingFile)))
        {
            File.Delete(file);
        }

        return leftovers.Count > 0;
    }

    /// <summary>
    /// Reads up to <paramref name="maxRows"/> lines from <paramref name="from"/> to <paramref name="end"/>.
    /// Bytes before <paramref name="end"/> that no newline closes are a torn line (a write cut short)
    /// and come back as an unreadable entry, like any line that is not a request.
    /// </summary>
    public JournalBatch Read(JournalPosition from, JournalPosition end, int maxRows)
    {
        var entries = new List<JournalEntry>();
        var position = from;
        long bytes = 0;
        foreach (var segment in Segments().Where(s => s >= from.Segment && s <= end.Segment))
        {
            var offset = segment == from.Segment ? from.Offset : 0;
            using var stream = new FileStream(SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var limit = segment == end.Segment ? Math.Min(end.Offset, stream.Length) : stream.Length;
            stream.Position = offset;
            foreach (var (line, terminated) in Lines(stream, limit))
            {
                var length = line.Length + (terminated ? 1 : 0);
                entries.Add(terminated ? Parse(segment, offset, line) : new JournalEntry(segment, offset, line, null, "torn: the line ends without a newline (a write cut short)"));
                offset += length;
                bytes += length;
                position = new JournalPosition(segment, offset);
                if (entries.Count == maxRows)
                {
                    return new JournalBatch(entries, position, bytes);
                }
            }

            if (segment < end.Segment)
            {
                position = new JournalPosition(segment + 1, 0);
            }
        }

        return new JournalBatch(entries, position, bytes);
    }

    /// <summary>Reads a journal line as a request, or says why it is not one.</summary>
    public static JournalEntry Parse(long segment, long offset, byte[] line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, JournalJson.Default.RoutedRequest) is { } request
                ? new JournalEntry(segment, offset, line, request, null)
                : new JournalEntry(segment, offset, line, null, "not a request: the line is JSON null");
        }
        catch (JsonException e)
        {
            return new JournalEntry(segment, offset, line, null, "not a request: " + e.Message);
        }
    }

    /// <summary>
    /// How many bytes of data a segment holds: up to its first zero byte (a segment is written full of
    /// zeros before its lines, and a JSON line never holds one), else its length.
    /// </summary>
    public long DataLength(long segment)
    {
        using var stream = new FileStream(SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var buffer = new byte[64 * 1024];
        long offset = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            var zero = Array.IndexOf(buffer, (byte)0, 0, read);
            if (zero >= 0)
            {
                return offset + zero;
            }

            offset += read;
        }

        return offset;
    }

    /// <summary>
    /// The lines from the stream's position up to <paramref name="limit"/> or the first zero byte
    /// (where a segment's data ends); the last one may lack its newline.
    /// </summary>
    private static IEnumerable<(byte[] Line, bool Terminated)> Lines(Stream stream, long limit)
    {
        var buffer = new byte[64 * 1024];
        var partial = new MemoryStream();
        int read;
        var ended = false;
        while (!ended && stream.Position < limit && (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - stream.Position))) > 0)
        {
            var zero = Array.IndexOf(buffer, (byte)0, 0, read);
            if (zero >= 0)
            {
                read = zero;
                ended = true;
            }

            var start = 0;
            int newline;
            while ((newline = Array.IndexOf(buffer, (byte)'\n', start, read - start)) >= 0)
            {
                byte[] line;
                if (partial.Length == 0)
                {
                    line = buffer[start..newline];
                }
                else
                {
                    partial.Write(buffer, start, newline - start);
                    line = partial.ToArray();
                    partial.SetLength(0);
                }

                yield return (line, true);
                start = newline + 1;
            }

            partial.Write(buffer, start, read - start);
        }

        if (partial.Length > 0)
        {
            yield return (partial.ToArray(), false);
        }
    }

    /// <summary>
    /// Deletes the folder once everything in it is shipped. A parent of other journals (the root of
    /// an old single-folder layout) keeps its sub-folders; a folder another adopter just locked stays
    /// and is removed on a later pass.
    /// </summary>
    public void Remove()
    {
        foreach (var file in Segments().Select(SegmentPath).Concat(new[] { CheckpointFile, BindingFile, OwnerFile }.Select(f => System.IO.Path.Combine(Path, f))))
        {
            File.Delete(file);
        }

        _lock.Dispose();
        try
        {
            File.Delete(System.IO.Path.Combine(Path, LockFile));
            if (!System.IO.Directory.EnumerateFileSystemEntries(Path).Any())
            {
                System.IO.Directory.Delete(Path);
            }
        }
        catch (IOException)
        {
            // Another Gateway locked it in between; it finds nothing to ship and removes it.
        }
    }

    public void Dispose() => _lock.Dispose();
}

/// <summary>
/// Which ledger a journal's rows are for: the database's own id once the journal has shipped to it,
/// else the connection target (host:port/database) it was meant for.
/// </summary>
public sealed record JournalBinding(Guid? Database, string? Target)
{
    /// <summary>
    /// Whether a Gateway writing to <paramref name="database"/> at <paramref name="target"/> may ship
    /// another journal's rows. A journal without a binding predates instance folders: adopted.
    /// </summary>
    public static bool CanAdopt(JournalBinding? journal, Guid database, string target) =>
        journal is null
        || (journal.Database is { } id ? id == database : journal.Target is null || string.Equals(journal.Target, target, StringComparison.Ordinal));
}
