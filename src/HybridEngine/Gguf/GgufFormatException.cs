namespace HybridEngine.Gguf;

/// <summary>The one exception a malformed GGUF file produces; the message names the file and the byte offset, key or tensor.</summary>
public sealed class GgufFormatException(string message) : Exception(message);
