using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Router.Ledger.Requests;

namespace Router.Ledger.Recording;

/// <summary>Where the journal lives and how much it may hold before the Gateway stops accepting requests.</summary>
public sealed class LedgerJournalOptions
{
    public required string Directory { get; init; }

    /// <summary>Unshipped bytes at which appends are refused: the ledger must not be lost, so the router stops instead.</summary>
    public long MaxBufferedBytes { get; init; } = 512L * 1024 * 1024;

    public long SegmentBytes { get; init; } = 16L * 1024 * 1024;
}

/// <summary>A position in the journal: a segment and a byte offset in it.</summary>
public readonly record struct JournalPosition(long Segment, long Offset);

/// <summary>Requests read from the journal, and the position just after them.</summary>
public sealed record JournalBatch(IReadOnlyList<RoutedRequest> Requests, JournalPosition End, long Bytes);

/// <summary>
/// The ledger's durable outbox: routed requests are appended as JSON lines to segment files and
/// fsynced in groups, so the request path never waits on PostgreSQL and a database outage loses
/// nothing. A shipper reads batches from the checkpoint, writes them to PostgreSQL and moves
/// the checkpoint; segments behind it are deleted. One process owns a directory (a lock file
/// enforces it).
/// </summary>
public sealed class LedgerJournal : IAsyncDisposable
{
    private const string SegmentPattern = "*.jsonl";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly LedgerJournalOptions _options;
    private readonly FileStream _lock;
    private readonly Channel<(byte[] Line, TaskCompletionSource Written)> _appends =
        Channel.CreateUnbounded<(byte[], TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly Task _writer;
    private readonly SemaphoreSlim _available = new(0);
    private FileStream _segment;
    private long _segmentNumber;
    private long _appendedBytes;
    private long _shippedBytes;
    private long _pendingRows;
    private JournalPosition _checkpoint;

    public LedgerJournal(LedgerJournalOptions options)
    {
        _options = options;
        System.IO.Directory.CreateDirectory(options.Directory);
        _lock = new FileStream(Path.Combine(options.Directory, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        _checkpoint = ReadCheckpoint();
        var segments = Segments();
        _segmentNumber = segments.Count == 0 ? Math.Max(1, _checkpoint.Segment) : segments[^1];
        _segment = OpenSegmentForAppend(_segmentNumber);
        (_pendingRows, _appendedBytes) = CountPending(segments);
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Rows appended but not yet in PostgreSQL.</summary>
    public long PendingRows => Interlocked.Read(ref _pendingRows);

    public long PendingBytes => Interlocked.Read(ref _appendedBytes) - Interlocked.Read(ref _shippedBytes);

    public bool IsFull => PendingBytes >= _options.MaxBufferedBytes;

    public long MaxBufferedBytes => _options.MaxBufferedBytes;

    /// <summary>
    /// Appends a request; the task completes once the line is fsynced. Returns false without
    /// writing when the journal is full.
    /// </summary>
    public Task<bool> AppendAsync(RoutedRequest request)
    {
        if (IsFull)
        {
            return Task.FromResult(false);
        }

        var line = JsonSerializer.SerializeToUtf8Bytes(request, Json);
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Add(ref _appendedBytes, line.Length + 1);
        Interlocked.Increment(ref _pendingRows);
        if (!_appends.Writer.TryWrite((line, written)))
        {
            throw new ObjectDisposedException(nameof(LedgerJournal));
        }

        return written.Task.ContinueWith(static _ => true, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    /// <summary>Waits until something was appended since the last read, or the timeout passes.</summary>
    public Task WaitForAppendAsync(TimeSpan timeout, CancellationToken cancellationToken) => _available.WaitAsync(timeout, cancellationToken);

    /// <summary>Reads up to <paramref name="maxRows"/> complete lines from the checkpoint on.</summary>
    public JournalBatch ReadBatch(int maxRows)
    {
        var requests = new List<RoutedRequest>();
        var position = _checkpoint;
        long bytes = 0;
        foreach (var segment in Segments().Where(s => s >= _checkpoint.Segment))
        {
            var offset = segment == _checkpoint.Segment ? _checkpoint.Offset : 0;
            using var stream = new FileStream(SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Position = offset;
            foreach (var (line, length) in CompleteLines(stream))
            {
                requests.Add(JsonSerializer.Deserialize<RoutedRequest>(line, Json)!);
                offset += length;
                bytes += length;
                position = new JournalPosition(segment, offset);
                if (requests.Count == maxRows)
                {
                    return new JournalBatch(requests, position, bytes);
                }
            }

            if (segment == _segmentNumber)
            {
                break;
            }

            position = new JournalPosition(segment + 1, 0);
        }

        return new JournalBatch(requests, position, bytes);
    }

    /// <summary>Records that a batch is in PostgreSQL: moves the checkpoint and deletes finished segments.</summary>
    public void Commit(JournalBatch batch)
    {
        var temporary = Path.Combine(_options.Directory, "checkpoint.tmp");
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            file.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{batch.End.Segment} {batch.End.Offset}")));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, CheckpointPath, overwrite: true);
        _checkpoint = batch.End;
        Interlocked.Add(ref _shippedBytes, batch.Bytes);
        Interlocked.Add(ref _pendingRows, -batch.Requests.Count);
        foreach (var finished in Segments().Where(s => s < _checkpoint.Segment && s != _segmentNumber))
        {
            File.Delete(SegmentPath(finished));
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _appends.Reader;
        var group = new List<TaskCompletionSource>();
        while (await reader.WaitToReadAsync())
        {
            try
            {
                while (group.Count < 4096 && reader.TryRead(out var append))
                {
                    if (_segment.Length >= _options.SegmentBytes)
                    {
                        await RotateAsync();
                    }

                    await _segment.WriteAsync(append.Line);
                    _segment.WriteByte((byte)'\n');
                    group.Add(append.Written);
                }

                // One fsync for the whole group: appends that arrive together share its cost.
                await _segment.FlushAsync();
                _segment.Flush(flushToDisk: true);
                group.ForEach(w => w.TrySetResult());
                _available.Release();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                group.ForEach(w => w.TrySetException(e));
            }

            group.Clear();
        }
    }

    private async Task RotateAsync()
    {
        await _segment.FlushAsync();
        _segment.Flush(flushToDisk: true);
        await _segment.DisposeAsync();
        _segmentNumber++;
        _segment = OpenSegmentForAppend(_segmentNumber);
    }

    /// <summary>Opens a segment at its end, cutting a torn last line left by a crash mid-write.</summary>
    private FileStream OpenSegmentForAppend(long segment)
    {
        var stream = new FileStream(SegmentPath(segment), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        var end = stream.Length;
        while (end > 0)
        {
            stream.Position = end - 1;
            if (stream.ReadByte() == '\n')
            {
                break;
            }

            end--;
        }

        stream.SetLength(end);
        stream.Position = end;
        return stream;
    }

    private (long Rows, long Bytes) CountPending(IReadOnlyList<long> segments)
    {
        long rows = 0;
        long bytes = 0;
        foreach (var segment in segments.Where(s => s >= _checkpoint.Segment))
        {
            using var stream = new FileStream(SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Position = segment == _checkpoint.Segment ? Math.Min(_checkpoint.Offset, stream.Length) : 0;
            foreach (var (_, length) in CompleteLines(stream))
            {
                rows++;
                bytes += length;
            }
        }

        return (rows, bytes);
    }

    /// <summary>The newline-terminated lines from the stream's position on; a torn last line (a crash mid-append) is left out.</summary>
    private static IEnumerable<(byte[] Line, int Length)> CompleteLines(Stream stream)
    {
        var buffer = new byte[64 * 1024];
        var partial = new MemoryStream();
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
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

                yield return (line, line.Length + 1);
                start = newline + 1;
            }

            partial.Write(buffer, start, read - start);
        }
    }

    private JournalPosition ReadCheckpoint()
    {
        if (!File.Exists(CheckpointPath))
        {
            return new JournalPosition(1, 0);
        }

        var parts = File.ReadAllText(CheckpointPath).Split(' ');
        return new JournalPosition(long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private List<long> Segments() =>
        [.. System.IO.Directory.EnumerateFiles(_options.Directory, SegmentPattern)
            .Select(p => long.Parse(Path.GetFileNameWithoutExtension(p), CultureInfo.InvariantCulture))
            .Order()];

    private string SegmentPath(long segment) => Path.Combine(_options.Directory, segment.ToString("D12", CultureInfo.InvariantCulture) + ".jsonl");

    private string CheckpointPath => Path.Combine(_options.Directory, "checkpoint");

    public async ValueTask DisposeAsync()
    {
        _appends.Writer.TryComplete();
        await _writer;
        await _segment.DisposeAsync();
        await _lock.DisposeAsync();
        _available.Dispose();
    }
}
