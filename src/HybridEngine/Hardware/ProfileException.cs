namespace HybridEngine.Hardware;

/// <summary>A profile that cannot be used: unreadable, corrupt, of another schema, or of another machine. The message is one sentence naming the file.</summary>
public sealed class ProfileException(string message, Exception? inner = null) : Exception(message, inner);
