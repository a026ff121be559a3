using HybridEngine.Runtime;
using HybridEngine.Runtime.Streaming;

namespace HybridEngine.Server;

/// <summary>How the served model's routed experts are held, as <c>GET /metrics</c> reports it.</summary>
public enum Placement
{
    /// <summary>Every weight stays in memory (the mapping); nothing is read from disk per token.</summary>
    Resident,
    /// <summary>Experts the plan streams are read with direct I/O into the engine's own expert cache, which counts them.</summary>
    Direct,
    /// <summary>Streamed experts are left to the OS page cache, which the engine cannot count.</summary>
    PageCache,
}

/// <summary>
/// A model loaded and placed for serving: its weights, how its experts are placed, the expert cache's counters when
/// experts stream through one, and what to dispose when the server stops (the model itself, or the placement that
/// owns model and cache).
/// </summary>
public sealed record ServedModel(LoadedModel Model, Placement Placement, StreamingCounters? Streaming, IDisposable Owner)
{
    /// <summary>The whole file loaded as it is, with no plan and no expert cache.</summary>
    public static ServedModel Resident(string path)
    {
        var model = LoadedModel.Load(path);
        return new ServedModel(model, Placement.Resident, null, model);
    }
}
