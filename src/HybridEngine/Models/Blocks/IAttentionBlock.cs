using HybridEngine.Runtime;

namespace HybridEngine.Models.Blocks;

/// <summary>An attention block: reads <c>State.Normed</c>, writes <c>State.BlockOut</c>, keeps its keys and values in the cache.</summary>
public interface IAttentionBlock
{
    void Forward(Executor ex, int tokens);
}
