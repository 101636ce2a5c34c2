using System.Globalization;

namespace Router.Benchmarks;

/// <summary>
/// CPU time of a process tree from /proc: user + system time of the process, of its live
/// descendants, and of the children it has reaped (cutime + cstime), so PostgreSQL's backends
/// count whether they are still running or have already exited.
/// </summary>
public static class ProcessCpu
{
    /// <summary>Clock ticks per second of /proc/&lt;pid&gt;/stat (USER_HZ, 100 on Linux).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>The process's own threads only: for the benchmark process, whose descendants are the system under test.</summary>
    public static TimeSpan OfProcess(int pid) =>
        TimeSpan.FromSeconds(Ticks(File.ReadAllText($"/proc/{pid}/stat"), withReapedChildren: false) / TicksPerSecond);

    public static TimeSpan OfTree(int pid)
    {
        try
        {
            var ticks = Ticks(File.ReadAllText($"/proc/{pid}/stat"), withReapedChildren: true);
            foreach (var child in Children(pid))
            {
                ticks += (long)(OfTree(child).TotalSeconds * TicksPerSecond);
            }

            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process (a PostgreSQL backend, say) exited while it was being read; its parent's
            // cutime/cstime holds its time once it is reaped.
            return TimeSpan.Zero;
        }
    }

    /// <summary>utime + stime, and cutime + cstime if asked, of one /proc/&lt;pid&gt;/stat line (fields 14-17; the command name may hold spaces).</summary>
    public static long Ticks(string stat, bool withReapedChildren)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Skip(11).Take(withReapedChildren ? 4 : 2).Sum(f => long.Parse(f, CultureInfo.InvariantCulture));
    }

    private static IEnumerable<int> Children(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task")
            .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(child => int.Parse(child, CultureInfo.InvariantCulture));
}

/// <summary>
/// The machine's CPU time by kind, from the first line of /proc/stat: what the hypervisor gave
/// other virtual machines (steal) and what no process used (idle and I/O wait) show how much of
/// the cores a measurement really had.
/// </summary>
public sealed record MachineCpu(long Total, long Steal, long Idle)
{
    public static MachineCpu Now()
    {
        // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
        var ticks = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..9]
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return new MachineCpu(ticks.Sum(), ticks[7], ticks[3] + ticks[4]);
    }

    public static MachineCpu operator -(MachineCpu after, MachineCpu before) =>
        new(after.Total - before.Total, after.Steal - before.Steal, after.Idle - before.Idle);

    public double StealPercent => Total == 0 ? 0 : 100.0 * Steal / Total;

    public double IdlePercent => Total == 0 ? 0 : 100.0 * Idle / Total;
}
