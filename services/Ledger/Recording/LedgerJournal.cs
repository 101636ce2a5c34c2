using System.Globalization;
using System.Text.Json;
using Router.Ledger.Requests;

namespace Router.Ledger.Recording;

/// <summary>Where the journal lives and how much it may hold before the Gateway stops accepting requests.</summary>
public sealed class LedgerJournalOptions
{
    /// <summary>The folder that holds every instance's journal (<c>Ledger:Directory</c>).</summary>
    public required string Root { get; init; }

    /// <summary>This process's sub-folder of <see cref="Root"/>: see <see cref="JournalInstance"/>.</summary>
    public required string Instance { get; init; }

    public string Directory => Path.Combine(Root, Instance);

    /// <summary>Unshipped bytes at which appends are refused: the ledger must not be lost, so the router stops instead.</summary>
    public long MaxBufferedBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>Segment size: each segment file is written full of zeros before its first line (see <see cref="LedgerJournal"/>).</summary>
    public long SegmentBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>How often the shipper looks for journals of instances that are gone (it also does on start).</summary>
    public TimeSpan AdoptionInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Durable rows kept in memory for the shipper (4 batches): while it keeps up it ships them without
    /// reading the file back; when it falls further behind (PostgreSQL slow or down) it reads the file.
    /// </summary>
    public int MemoryRows { get; init; } = 4 * 1000;
}

/// <summary>Makes written journal bytes durable. A seam so tests can make fsync fail the way a dying disk does.</summary>
public interface IDurableFlush
{
    void FlushToDisk(FileStream file);
}

/// <summary>fsync (FlushFileBuffers on Windows).</summary>
public sealed class FsyncFlush : IDurableFlush
{
    public void FlushToDisk(FileStream file) => file.Flush(flushToDisk: true);
}

/// <summary>
/// Appended rows could not be made durable (the write or the fsync failed). It is the I/O error
/// itself, wrapped with the file it happened on; the rows it names are not in the journal.
/// </summary>
public sealed class JournalWriteException : IOException
{
    public JournalWriteException(string message, Exception inner)
        : base(message, inner) => HResult = inner.HResult;
}

/// <summary>
/// The ledger's durable outbox: routed requests are appended as JSON lines to segment files and
/// fsynced in groups, so the request path never waits on PostgreSQL and a database outage loses
/// nothing. A shipper reads batches from the checkpoint up to what is fsynced, writes them to
/// PostgreSQL and moves the checkpoint; segments behind it are deleted. One process owns the
/// folder (a lock file enforces it). Lines a previous process left in the folder are handed to a
/// sibling folder on open, which the shipper adopts once it knows they are for its ledger. The
/// latest durable lines are also kept in memory as the requests they were made from, so a shipper
/// that keeps up never reads the file back or parses a line (see <see cref="LedgerJournalOptions.MemoryRows"/>).
/// </summary>
/// <remarks>
/// Segments are filled with zeros and fsynced before their first line, the next one in the
/// background: a line then overwrites allocated blocks without growing the file, so its fsync has no
/// size change to commit to the file system's journal. On this project's machines that took a
/// third off the fsync's median and half off its 99th percentile, both on the answer's path. Data
/// ends at the first zero byte (a JSON line never holds one); a segment is cut to its data when the
/// journal moves past it or closes.
/// </remarks>
public sealed class LedgerJournal : IShippableJournal, IAsyncDisposable
{
    private static readonly byte[] Zeros = new byte[1024 * 1024];
    private readonly LedgerJournalOptions _options;
    private readonly IDurableFlush _flush;
    private readonly JournalFolder _folder;
    private readonly SemaphoreSlim _available = new(0);

    // Appends wait in _queued (under _queueGate) for the writer: whoever holds _writerGate. Only the
    // writer touches the file, _buffer and _spare.
    private readonly Lock _queueGate = new();
    private readonly SemaphoreSlim _writerGate = new(1, 1);
    private readonly MemoryStream _buffer = new();
    private List<Append> _queued = [];
    private List<Append> _spare = [];
    private bool _closed;
    private readonly Lock _durableGate = new();

    // Under _durableGate: lines are counted from the open (the folder starts empty: leftovers are
    // handed over), so a line's number says whether it is in memory and whether it is shipped.
    private readonly Queue<JournalEntry> _recent = new();
    private long _recentFirstLine;
    private long _durableLines;
    private long _committedLines;
    private FileStream _segment;
    private Task<FileStream> _nextSegment;
    private long _segmentNumber = 1;
    private JournalPosition _durable = new(1, 0);
    private JournalPosition _checkpoint = new(1, 0);
    private long _appendedBytes;
    private long _shippedBytes;
    private long _pendingRows;
    private long _writeFailures;
    private volatile JournalWriteException? _writeFailure;
    private volatile JournalWriteException? _broken;
    private bool _rotateNext;

    public LedgerJournal(LedgerJournalOptions options, IDurableFlush? flush = null)
    {
        _options = options;
        _flush = flush ?? new FsyncFlush();
        _folder = JournalFolder.Lock(
            options.Directory,
            $"give this one another Ledger:Instance (now '{options.Instance}'), or another Ledger:Directory (now '{options.Root}').");
        var handedOver = Path.Combine(options.Root, $"{options.Instance}~{DateTime.UtcNow.ToString("yyyyMMddTHHmmss", CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}");
        try
        {
            LeftoversHandedOverTo = _folder.HandOverLeftovers(handedOver) ? handedOver : null;
            _segment = CreateSegment(_segmentNumber);
        }
        catch
        {
            _folder.Dispose();
            throw;
        }

        _nextSegment = PrepareSegment(_segmentNumber + 1);
    }

    public string Directory => _folder.Path;

    /// <summary>The folder that received the lines a previous process left unshipped; null when it left none.</summary>
    public string? LeftoversHandedOverTo { get; }

    /// <summary>Rows appended but not yet in PostgreSQL.</summary>
    public long PendingRows => Interlocked.Read(ref _pendingRows);

    public long PendingBytes => Interlocked.Read(ref _appendedBytes) - Interlocked.Read(ref _shippedBytes);

    public bool IsFull => PendingBytes >= _options.MaxBufferedBytes;

    public long MaxBufferedBytes => _options.MaxBufferedBytes;

    /// <summary>The last write or fsync failure, while no later group has been made durable; null when writes succeed.</summary>
    public JournalWriteException? WriteFailure => _broken ?? _writeFailure;

    /// <summary>Groups whose write or fsync failed since the journal was opened.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>
    /// Appends a request; the task completes once the line is fsynced. Returns false without
    /// writing when the journal is full; throws <see cref="JournalWriteException"/> when the disk
    /// refused the write or the fsync.
    /// </summary>
    /// <remarks>
    /// Group commit without a writer thread: a caller that finds no write under way writes every
    /// queued line itself, its own among them, with one write and one fsync; callers that arrive
    /// meanwhile queue theirs for the next group. One request at a time thus pays no thread hop to a
    /// writer and back, and concurrent ones still share each fsync.
    /// </remarks>
    public async Task<bool> AppendAsync(RoutedRequest request)
    {
        if (IsFull)
        {
            return false;
        }

        if (_broken is { } broken)
        {
            throw broken;
        }

        var line = JsonSerializer.SerializeToUtf8Bytes(request, JournalJson.Default.RoutedRequest);
        var append = new Append(line, request, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_queueGate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            Interlocked.Add(ref _appendedBytes, line.Length + 1);
            Interlocked.Increment(ref _pendingRows);
            _queued.Add(append);
        }

        if (_writerGate.Wait(0))
        {
            WriteThenRelease();
        }

        await append.Written.Task;
        return true;
    }

    /// <summary>Waits until something was made durable since the last read, or the timeout passes.</summary>
    public Task WaitForAppendAsync(TimeSpan timeout, CancellationToken cancellationToken) => _available.WaitAsync(timeout, cancellationToken);

    /// <summary>
    /// Reads up to <paramref name="maxRows"/> lines from the checkpoint to the last fsync (a line still
    /// being written is never read): from memory when the lines kept there start at the checkpoint,
    /// else from the file.
    /// </summary>
    public JournalBatch ReadBatch(int maxRows)
    {
        JournalPosition durable;
        lock (_durableGate)
        {
            if (_recent.Count > 0 && _recentFirstLine == _committedLines)
            {
                var entries = _recent.Take(maxRows).ToList();
                var last = entries[^1];
                return new JournalBatch(entries, new JournalPosition(last.Segment, last.Offset + last.Line.Length + 1), entries.Sum(e => e.Line.Length + 1L));
            }

            durable = _durable;
        }

        return _folder.Read(_checkpoint, durable, maxRows);
    }

    public void Commit(JournalBatch batch)
    {
        _folder.Commit(batch.End, _segmentNumber);
        _checkpoint = batch.End;
        Interlocked.Add(ref _shippedBytes, batch.Bytes);
        Interlocked.Add(ref _pendingRows, -batch.Entries.Count);
        lock (_durableGate)
        {
            _committedLines += batch.Entries.Count;
            while (_recent.Count > 0 && _recentFirstLine < _committedLines)
            {
                _recent.Dequeue();
                _recentFirstLine++;
            }
        }
    }

    public string SegmentPath(long segment) => _folder.SegmentPath(segment);

    /// <summary>Records which ledger this journal's rows are for, so another Gateway adopts them only into the same one.</summary>
    public void Bind(JournalBinding binding) => _folder.WriteBinding(binding);

    /// <summary>Writes everything queued as one group. Only the holder of <see cref="_writerGate"/> calls it.</summary>
    private void WriteQueued()
    {
        List<Append> group;
        lock (_queueGate)
        {
            group = _queued;
            _queued = _spare;
        }

        if (group.Count > 0)
        {
            long groupBytes = 0;
            foreach (var append in group)
            {
                _buffer.Write(append.Line);
                _buffer.WriteByte((byte)'\n');
                groupBytes += append.Line.Length + 1;
            }

            if (_broken is { } broken)
            {
                Fail(group, groupBytes, broken);
            }
            else
            {
                WriteGroup(group, groupBytes);
            }

            _buffer.SetLength(0);
            group.Clear();
        }

        _spare = group;
    }

    /// <summary>
    /// Lines queued while a group was written found the writer busy and left them to it: they are
    /// written on a pool thread, so the caller that wrote the last group answers its request now.
    /// </summary>
    private void ReleaseWriter()
    {
        _writerGate.Release();
        bool waiting;
        lock (_queueGate)
        {
            waiting = _queued.Count > 0;
        }

        if (waiting && _writerGate.Wait(0))
        {
            ThreadPool.UnsafeQueueUserWorkItem(static journal => journal.WriteThenRelease(), this, preferLocal: false);
        }
    }

    private void WriteThenRelease()
    {
        try
        {
            WriteQueued();
        }
        finally
        {
            ReleaseWriter();
        }
    }

    /// <summary>
    /// Writes a group with one write and one fsync: appends that arrive together share its cost. The
    /// write is synchronous like the fsync after it: the writer has nothing else to do meanwhile, and
    /// an asynchronous file write would only move it to another thread and back.
    /// </summary>
    private void WriteGroup(List<Append> group, long groupBytes)
    {
        var path = _folder.SegmentPath(_segmentNumber);
        try
        {
            if (_rotateNext || _segment.Position >= _options.SegmentBytes)
            {
                path = Rotate();
            }

            var offset = _segment.Position;
            _segment.Write(_buffer.GetBuffer(), 0, (int)_buffer.Length);
            _flush.FlushToDisk(_segment);
            lock (_durableGate)
            {
                _durable = new JournalPosition(_segmentNumber, _segment.Position);
                KeepRecent(group, offset);
            }

            _writeFailure = null;
            group.ForEach(a => a.Written.TrySetResult());
            _available.Release();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var failure = new JournalWriteException($"The ledger journal could not make {group.Count} rows durable in {path}: {e.Message}", e);
            _writeFailure = failure;
            Interlocked.Increment(ref _writeFailures);
            Fail(group, groupBytes, failure);
            CutBackToDurable(failure);
        }
    }

    /// <summary>
    /// Cuts the failed group off the segment, so the rows its callers were told failed are never
    /// shipped, and moves later appends to a new file: after a failed fsync the kernel may have
    /// dropped the old file's unwritten pages and a later fsync of it proves nothing. If even the cut
    /// fails the file can no longer be trusted: every later append fails until a restart hands the
    /// folder over.
    /// </summary>
    private void CutBackToDurable(JournalWriteException failure)
    {
        try
        {
            long durable;
            lock (_durableGate)
            {
                durable = _durable.Segment == _segmentNumber ? _durable.Offset : 0;
            }

            _segment.SetLength(durable);
            _segment.Position = durable;
            _rotateNext = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _broken = failure;
        }
    }

    private void Fail(List<Append> group, long groupBytes, JournalWriteException failure)
    {
        Interlocked.Add(ref _appendedBytes, -groupBytes);
        Interlocked.Add(ref _pendingRows, -group.Count);
        group.ForEach(a => a.Written.TrySetException(failure));
    }

    /// <summary>
    /// Keeps a durable group in memory for the shipper. A group that would pass the bound starts the
    /// memory afresh after it: the shipper reads the lines before that from the file, then memory again.
    /// </summary>
    private void KeepRecent(List<Append> group, long offset)
    {
        _durableLines += group.Count;
        if (_recent.Count + group.Count > _options.MemoryRows)
        {
            _recent.Clear();
            _recentFirstLine = _durableLines;
            return;
        }

        foreach (var append in group)
        {
            _recent.Enqueue(new JournalEntry(_segmentNumber, offset, append.Line, append.Request, null));
            offset += append.Line.Length + 1;
        }
    }

    /// <summary>Starts the next segment; the current one ends at its last durable group (rotation happens only between groups).</summary>
    private string Rotate()
    {
        FileStream next;
        try
        {
            next = _nextSegment.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            next = CreateSegment(_segmentNumber + 1);
        }

        CutToData(_segment);
        _segment.Dispose();
        _segment = next;
        _segmentNumber++;
        _nextSegment = PrepareSegment(_segmentNumber + 1);
        _rotateNext = false;
        lock (_durableGate)
        {
            _durable = new JournalPosition(_segmentNumber, 0);
        }

        return _folder.SegmentPath(_segmentNumber);
    }

    private Task<FileStream> PrepareSegment(long segment) => Task.Run(() => CreateSegment(segment));

    /// <summary>A new segment file written full of zeros and fsynced, its name too, positioned at its start.</summary>
    private FileStream CreateSegment(long segment)
    {
        var file = new FileStream(_folder.SegmentPath(segment), FileMode.Create, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 0);
        try
        {
            for (long written = 0; written < _options.SegmentBytes; written += Zeros.Length)
            {
                file.Write(Zeros, 0, (int)Math.Min(Zeros.Length, _options.SegmentBytes - written));
            }

            file.Flush(flushToDisk: true);
            FolderSync.Flush(_folder.Path);
            file.Position = 0;
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Cuts the zeros after a segment's data.</summary>
    private static void CutToData(FileStream segment)
    {
        try
        {
            segment.SetLength(segment.Position);
        }
        catch (IOException)
        {
            // Readers stop at the first zero byte, so a segment left uncut reads the same.
        }
    }

    private sealed record Append(byte[] Line, RoutedRequest Request, TaskCompletionSource Written);

    /// <summary>Refuses further appends, waits for the group being written and writes what is still queued.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_queueGate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        await _writerGate.WaitAsync();
        WriteQueued();
        CutToData(_segment);
        await _segment.DisposeAsync();
        try
        {
            await (await _nextSegment).DisposeAsync();
            File.Delete(_folder.SegmentPath(_segmentNumber + 1));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A spare segment left behind holds no data: the next start deletes it.
        }

        _buffer.Dispose();
        _folder.Dispose();
        _available.Dispose();
    }
}
