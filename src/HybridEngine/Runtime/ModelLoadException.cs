namespace HybridEngine.Runtime;

/// <summary>
/// A model file that cannot be run: an unknown architecture, a missing key or tensor, a tensor of the wrong shape or
/// an unsupported quant type. The message is one sentence naming the culprit (and the supported alternatives).
/// </summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A request the preallocated context cannot hold (more tokens than the context length).</summary>
public sealed class ContextOverflowException(string message) : Exception(message);
