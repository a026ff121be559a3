using System.Diagnostics;

namespace HybridEngine.Runtime;

/// <summary>
/// Cheap always-on counters of one executor: prefill and decode tokens and time, and how often each expert of each
/// layer was routed to (the input of calibration and the planner). Read by --stats, bench and the server alike.
/// </summary>
public sealed class RuntimeCounters
{
    private readonly long[][] _routed;

    public RuntimeCounters(int layers, int experts)
    {
        _routed = new long[layers][];
        for (int l = 0; l < layers; l++) _routed[l] = experts > 0 ? new long[experts] : [];
    }

    public long PrefillTokens { get; private set; }
    public long PrefillTicks { get; private set; }
    public long DecodeTokens { get; private set; }
    public long DecodeTicks { get; private set; }

    public double PrefillSeconds => PrefillTicks / (double)Stopwatch.Frequency;
    public double DecodeSeconds => DecodeTicks / (double)Stopwatch.Frequency;
    public double PrefillTokensPerSecond => PrefillTicks == 0 ? 0 : PrefillTokens / PrefillSeconds;
    public double DecodeTokensPerSecond => DecodeTicks == 0 ? 0 : DecodeTokens / DecodeSeconds;

    /// <summary>Routed-expert products (one expert on the tokens of a step that chose it) run on an accelerator and on the CPU.</summary>
    public long DeviceExpertProducts { get; private set; }
    public long CpuExpertProducts { get; private set; }

    /// <summary>MoE layer steps in which CPU experts were computed while a batch of accelerator experts was in flight.</summary>
    public long OverlappedExpertSteps { get; private set; }

    internal void AddExpertProducts(int device, int cpu)
    {
        DeviceExpertProducts += device;
        CpuExpertProducts += cpu;
    }

    internal void AddOverlappedStep() => OverlappedExpertSteps++;

    /// <summary>Times expert <paramref name="expert"/> of layer <paramref name="layer"/> was chosen, over all tokens.</summary>
    public long Routed(int layer, int expert) => _routed[layer][expert];

    public ReadOnlySpan<long> RoutedInLayer(int layer) => _routed[layer];

    /// <summary>When set, every routing decision is also appended here, token by token (for offline policy studies).</summary>
    public Streaming.RoutingTrace? Trace { get; set; }

    internal void AddRouted(int layer, int expert)
    {
        _routed[layer][expert]++;
        Trace?.Add(layer, expert);
    }

    /// <summary>A forward step: decode when it extends a sequence by one token, prefill otherwise.</summary>
    internal void AddForward(int tokens, long ticks, bool decode)
    {
        if (decode) { DecodeTokens += tokens; DecodeTicks += ticks; }
        else { PrefillTokens += tokens; PrefillTicks += ticks; }
    }

    public void Reset()
    {
        PrefillTokens = PrefillTicks = DecodeTokens = DecodeTicks = 0;
        DeviceExpertProducts = CpuExpertProducts = OverlappedExpertSteps = 0;
        foreach (var layer in _routed) Array.Clear(layer);
    }
}
