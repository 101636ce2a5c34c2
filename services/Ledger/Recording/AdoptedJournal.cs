namespace Router.Ledger.Recording;

/// <summary>
/// The journal of an instance that is gone (no live process holds its folder's lock), read to its
/// end and shipped by this process, then removed. Its last line may be torn by the crash that
/// ended it; nothing writes to it any more, so such a line is set aside like any unreadable one.
/// </summary>
public sealed class AdoptedJournal : IShippableJournal, IDisposable
{
    private readonly JournalFolder _folder;
    private readonly JournalPosition _end;
    private JournalPosition _checkpoint;

    private AdoptedJournal(JournalFolder folder)
    {
        _folder = folder;
        _checkpoint = folder.ReadCheckpoint();
        var segments = folder.Segments();
        _end = segments.Count == 0 ? _checkpoint : new JournalPosition(segments[^1], folder.DataLength(segments[^1]));
        Binding = folder.ReadBinding();
    }

    public string Directory => _folder.Path;

    /// <summary>Which ledger its rows are for; null for a journal from before instance folders.</summary>
    public JournalBinding? Binding { get; }

    public bool IsEmpty => _checkpoint.Segment > _end.Segment || (_checkpoint.Segment == _end.Segment && _checkpoint.Offset >= _end.Offset);

    /// <summary>Locks the folder if its owner is gone; null while a live process holds it.</summary>
    public static AdoptedJournal? TryOpen(string directory) => JournalFolder.TryLock(directory) is { } folder ? new AdoptedJournal(folder) : null;

    /// <summary>
    /// Folders that may hold another instance's journal: every sub-folder of the root but this
    /// process's own, and the root itself when it holds segments written before instance folders.
    /// </summary>
    public static IEnumerable<string> Candidates(string root, string own)
    {
        if (!System.IO.Directory.Exists(root))
        {
            yield break;
        }

        if (System.IO.Directory.EnumerateFiles(root, "*.jsonl").Any())
        {
            yield return root;
        }

        var ownPath = Path.GetFullPath(own);
        foreach (var directory in System.IO.Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            if (!string.Equals(Path.GetFullPath(directory), ownPath, StringComparison.Ordinal))
            {
                yield return directory;
            }
        }
    }

    public JournalBatch ReadBatch(int maxRows) => _folder.Read(_checkpoint, _end, maxRows);

    public void Commit(JournalBatch batch)
    {
        _folder.Commit(batch.End, liveSegment: null);
        _checkpoint = batch.End;
    }

    public string SegmentPath(long segment) => _folder.SegmentPath(segment);

    /// <summary>Deletes the journal once everything in it is shipped or set aside.</summary>
    public void Remove() => _folder.Remove();

    public void Dispose() => _folder.Dispose();
}
