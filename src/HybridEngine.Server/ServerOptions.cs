namespace HybridEngine.Server;

/// <summary>Settings of one server process: one model, one listening address, one bounded queue.</summary>
/// <param name="ModelPath">The GGUF file to serve.</param>
/// <param name="Host">Address to bind; loopback unless the user asks for another.</param>
/// <param name="Port">TCP port; 0 = any free port (read <see cref="HybridServer.Address"/> after start).</param>
/// <param name="ApiKey">When set, every request needs <c>Authorization: Bearer ApiKey</c>.</param>
/// <param name="QueueLimit">Requests allowed to wait while one generates; more are refused with 503.</param>
/// <param name="MaxBodyBytes">Largest request body accepted; larger ones get 413.</param>
/// <param name="Context">Context length in tokens (0 = the trained context, at most <see cref="DefaultContext"/>).</param>
/// <param name="Threads">Compute threads (0 = all cores).</param>
public sealed record ServerOptions(
    string ModelPath,
    string Host = "127.0.0.1",
    int Port = 8080,
    string? ApiKey = null,
    int QueueLimit = 8,
    long MaxBodyBytes = 1 << 20,
    int Context = 0,
    int Threads = 0)
{
    public const int DefaultContext = 4096;

    /// <summary>The context the server runs: <see cref="Context"/> when given, else the trained one capped at <see cref="DefaultContext"/>.</summary>
    public int ResolveContext(int trained) => Context > 0 ? Context : trained > 0 ? Math.Min(trained, DefaultContext) : DefaultContext;

    /// <summary>The first problem with these settings, as one sentence, or null.</summary>
    public string? Validate()
    {
        if (Port is < 0 or > 65535) return $"--port must be in 0..65535, not {Port}";
        if (QueueLimit < 0) return $"--queue must not be negative, not {QueueLimit}";
        if (MaxBodyBytes < 1024) return $"--max-body must be at least 1024 bytes, not {MaxBodyBytes}";
        if (Context < 0) return $"-c must not be negative, not {Context}";
        if (Threads < 0) return $"--threads must not be negative, not {Threads}";
        if (ApiKey is { Length: 0 }) return "--api-key must not be empty";
        return null;
    }
}
