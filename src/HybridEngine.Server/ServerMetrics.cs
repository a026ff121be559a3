namespace HybridEngine.Server;

/// <summary>Request counters of the server, read by <c>GET /metrics</c>; safe to update from any thread.</summary>
public sealed class ServerMetrics
{
    private long _started, _completed, _cancelled, _refused, _rejected, _tokens;

    public long GenerationsStarted => Interlocked.Read(ref _started);
    public long Completed => Interlocked.Read(ref _completed);
    public long Cancelled => Interlocked.Read(ref _cancelled);
    /// <summary>Requests turned away with 503 because the queue was full.</summary>
    public long RefusedBusy => Interlocked.Read(ref _refused);
    /// <summary>Requests answered with a 4xx (bad input, missing key, oversized body).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);
    public long GeneratedTokens => Interlocked.Read(ref _tokens);

    internal void Started() => Interlocked.Increment(ref _started);
    internal void Refused() => Interlocked.Increment(ref _refused);
    internal void Rejected4xx() => Interlocked.Increment(ref _rejected);

    internal void Finished(int tokens, FinishReason finish)
    {
        Interlocked.Add(ref _tokens, tokens);
        if (finish == FinishReason.Cancelled) Interlocked.Increment(ref _cancelled);
        else Interlocked.Increment(ref _completed);
    }
}
