using System.Diagnostics;

namespace HybridEngine.Runtime.Streaming;

/// <summary>
/// Makes the expert reader behave like a disk of at most <c>bytesPerSecond</c> (--disk-gbps), the way a RAM budget
/// makes the machine behave like a smaller one.
/// <para>
/// The emulated disk has one channel per reader thread, each of bytesPerSecond ÷ readers: a read of s bytes is not
/// done before s · readers ÷ bytesPerSecond has passed since it started; a reader that got its bytes sooner sleeps out
/// the rest (no busy wait). All readers busy together then move at most bytesPerSecond, and an expert read alone in
/// fewer pieces than readers moves slower, as the measured disk does: the rule the planner's demand rate follows
/// (<see cref="Planning.ExpertReadRule"/>). The pacing is per read, so nothing is shared between the readers, and a
/// read that itself took longer than its share adds no wait.
/// </para>
/// </summary>
internal sealed class ReadPacing(double bytesPerSecond, int readers)
{
    private readonly double _ticksPerByte = Math.Max(1, readers) * Stopwatch.Frequency / bytesPerSecond;

    /// <summary>Returns once the read of <paramref name="bytes"/> that began at <paramref name="startTimestamp"/> has lasted its share.</summary>
    public void Finish(long startTimestamp, int bytes)
    {
        long due = startTimestamp + (long)(bytes * _ticksPerByte);
        long left = due - Stopwatch.GetTimestamp();
        // Whole milliseconds, rounded up: the wait ends at most a timer tick late, never early.
        if (left > 0) Thread.Sleep((int)Math.Ceiling(left * 1000.0 / Stopwatch.Frequency));
    }
}
