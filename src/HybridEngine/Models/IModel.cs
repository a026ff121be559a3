using HybridEngine.Runtime;

namespace HybridEngine.Models;

/// <summary>
/// The sizes a runtime needs to preallocate a context for a model: every buffer of <see cref="RunState"/> and the
/// KV cache are derived from these, once.
/// </summary>
/// <param name="QueryWidth">Per token: the query projection width (heads·keyDim, or the absorbed MLA width).</param>
/// <param name="KeyWidth">Per token and layer: the cached key row.</param>
/// <param name="ValueWidth">Per token and layer: the cached value row (0 when values are read from the key row).</param>
/// <param name="AttentionWidth">Per token: the attention output before the output projection.</param>
/// <param name="FfnWidth">The widest FFN hidden layer (dense, shared or one routed expert).</param>
/// <param name="ExtraWidth">Per token: scratch an architecture needs beyond the shared buffers (0 for most).</param>
public sealed record ModelDimensions(
    string Architecture,
    int Hidden,
    int Vocab,
    int Layers,
    int Heads,
    int QueryWidth,
    int KeyWidth,
    int ValueWidth,
    int AttentionWidth,
    int FfnWidth,
    int Experts,
    int ExpertsUsed,
    int TrainedContext,
    int ExtraWidth = 0);

/// <summary>
/// One architecture's description of its graph over the shared blocks. <see cref="Forward"/> runs the tokens
/// already placed in <see cref="Executor.State"/> and leaves logits in <c>State.Logits</c>.
/// </summary>
public interface IModel
{
    ModelDimensions Dimensions { get; }

    /// <summary>
    /// Runs <paramref name="tokens"/> tokens (ids in <c>State.Tokens</c>, positions in <c>State.Positions</c>)
    /// through the model; writes logits for every token, or only for the last one into row 0.
    /// </summary>
    void Forward(Executor executor, int tokens, bool allLogits);
}
