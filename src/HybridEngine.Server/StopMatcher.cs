using System.Text;

namespace HybridEngine.Server;

/// <summary>
/// Finds OpenAI <c>stop</c> sequences in text that grows a token at a time. Text may be sent once no stop sequence
/// can still start in it: everything before the longest suffix that is a prefix of some stop sequence.
/// </summary>
public sealed class StopMatcher(IReadOnlyList<string> stops)
{
    private readonly int _longest = stops.Count == 0 ? 0 : stops.Max(s => s.Length);

    /// <summary>
    /// (end, hit): with a hit, <c>end</c> is where the first stop sequence begins and the text ends there; without,
    /// text up to <c>end</c> is safe to send. <paramref name="emitted"/> is how much was already sent (never beyond a stop).
    /// </summary>
    public (int End, bool Hit) Scan(StringBuilder text, int emitted)
    {
        if (_longest == 0) return (text.Length, false);
        // A stop sequence can only start in the held-back tail: earlier text was checked when it was sent.
        int from = Math.Max(0, emitted);
        string tail = text.ToString(from, text.Length - from);
        int first = -1;
        foreach (var s in stops)
        {
            int at = tail.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        if (first >= 0) return (from + first, true);
        int hold = 0;
        for (int k = Math.Min(_longest - 1, tail.Length); k > 0 && hold == 0; k--)
            foreach (var s in stops)
                if (s.Length > k && tail.AsSpan(tail.Length - k).SequenceEqual(s.AsSpan(0, k))) { hold = k; break; }
        return (text.Length - hold, false);
    }
}
