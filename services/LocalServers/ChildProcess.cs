using System.Diagnostics;

namespace Router.LocalServers;

/// <summary>
/// A process we started and own: its output goes line by line to <see cref="OutputLine"/>
/// and to a short tail kept for error reports, and stopping it is graceful first (a signal the
/// program handles as shutdown) and forceful only after a grace period.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private const int TailLines = 40;
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _stopSignal;

    private ChildProcess(Process process, int stopSignal, Action<string>? outputLine)
    {
        _process = process;
        _stopSignal = stopSignal;
        OutputLine = outputLine;
    }

    public Action<string>? OutputLine { get; set; }

    public int Id => _process.Id;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Completes with the exit code once the process has exited and its output is drained.</summary>
    public Task<int> Exited => _exited.Task;

    public IReadOnlyList<string> Tail
    {
        get
        {
            lock (_tail)
            {
                return [.. _tail];
            }
        }
    }

    public static ChildProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        int stopSignal = NativeMethods.SIGTERM,
        Action<string>? outputLine = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, stopSignal, outputLine);
        // Complete only when the process has exited and both output streams are drained, so
        // the last lines are in the tail when someone reports the exit.
        var pending = 3;
        void Arrived()
        {
            if (Interlocked.Decrement(ref pending) == 0)
            {
                child._exited.TrySetResult(process.ExitCode);
            }
        }

        void OnLine(string? line)
        {
            if (line is null)
            {
                Arrived();
                return;
            }

            child.Record(line);
        }

        process.Exited += (_, _) => Arrived();
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Signals the process to shut down and waits; kills the whole tree after the grace period.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (HasExited)
        {
            return;
        }

        try
        {
            if (OperatingSystem.IsWindows())
            {
                _process.Kill(entireProcessTree: true);
            }
            else
            {
                _ = NativeMethods.Kill(_process.Id, _stopSignal);
            }

            await _exited.Task.WaitAsync(grace);
        }
        catch (TimeoutException)
        {
            Kill();
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // The process exited between the check and the signal.
        }
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    private void Record(string line)
    {
        lock (_tail)
        {
            _tail.Enqueue(line);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
        }

        OutputLine?.Invoke(line);
    }
}
