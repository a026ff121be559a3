using System.Diagnostics;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// Makes the expert reader behave like a disk of at most <c>bytesPerSecond</c> (--disk-gbps), the way a RAM budget
/// makes the machine behave like a smaller one: a token bucket the reader threads share, holding no tokens in reserve.
/// <para>
/// Each read, once its bytes are in, takes the next slot of bytes ÷ bytesPerSecond on one shared clock, starting no
/// earlier than the read itself began, and its reader sleeps until the slot ends (no busy wait). Reads therefore end
/// at most bytesPerSecond apart in bytes, whatever the number of readers; an idle spell earns no burst; an expert read
/// alone in several pieces takes its bytes ÷ bytesPerSecond, as on a disk that slow. A read that itself took longer
/// than its slot (the disk slower than the cap) adds no wait, and a reader woken late delays no other read's slot.
/// </para>
/// </summary>
internal sealed class ReadPacing(double bytesPerSecond)
{
    private readonly double _ticksPerByte = Stopwatch.Frequency / bytesPerSecond;
    private readonly object _gate = new();
    private long _next;

    /// <summary>
    /// Returns once the read of <paramref name="bytes"/> that began at <paramref name="startTimestamp"/> may count as
    /// done: the end of its slot, a <see cref="Stopwatch"/> timestamp (returned).
    /// </summary>
    public long Finish(long startTimestamp, int bytes)
    {
        long due;
        lock (_gate)
        {
            _next = Math.Max(_next, startTimestamp) + (long)(bytes * _ticksPerByte);
            due = _next;
        }
        long left = due - Stopwatch.GetTimestamp();
        // Whole milliseconds, rounded up: the wait ends at most a timer tick late, never early.
        if (left > 0) Thread.Sleep((int)Math.Ceiling(left * 1000.0 / Stopwatch.Frequency));
        return due;
    }
}
