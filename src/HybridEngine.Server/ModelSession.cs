using System.Text;
using HybridEngine.Runtime;
using HybridEngine.Tokenization;

namespace HybridEngine.Server;

/// <summary>How a generation ended: OpenAI's <c>finish_reason</c> values, plus a client that went away.</summary>
public enum FinishReason { Stop, Length, Cancelled }

/// <summary>The text and token counts of one finished generation.</summary>
public sealed record GenerationResult(string Text, int PromptTokens, int CompletionTokens, FinishReason Finish);

/// <summary>
/// The one model of a server process: weights, tokenizer and a single executor (its KV cache holds one sequence),
/// so generations run one at a time. Requests wait their turn in a bounded queue; <see cref="Metrics"/> counts them.
/// </summary>
public sealed class ModelSession : IDisposable
{
    private readonly ServedModel _served;
    private readonly Tokenization.ChatTemplate? _template;
    private readonly Executor _executor;
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Lock _tokenizerLock = new();
    private readonly int _queueLimit;
    private int _admitted;   // generating + waiting

    /// <summary>Serves <paramref name="served"/> (owned from here on: disposed with the session, or at once if this fails).</summary>
    public ModelSession(ServerOptions options, ServedModel served)
    {
        _served = served;
        var loaded = served.Model;
        try
        {
            Tokenizer = Tokenizer.FromGguf(loaded.File);
            int context = options.ResolveContext(loaded.Model.Dimensions.TrainedContext);
            _executor = loaded.CreateExecutor(new ExecutorOptions(Context: context, BatchSize: 256, Threads: options.Threads));
        }
        catch
        {
            served.Owner.Dispose();
            throw;
        }
        _queueLimit = options.QueueLimit;
        ModelId = Path.GetFileNameWithoutExtension(options.ModelPath);
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var vocab = Tokenizer.Vocabulary;
        HasChatMarkers = vocab.TryGetId(ChatMl.Start, out _) && vocab.TryGetId(ChatMl.End, out _);
        var template = Tokenization.ChatTemplate.FromGguf(loaded.File);
        // The model's own template when the file names one this engine knows; else the ChatML / plain layout below.
        _template = template.Warning is null ? template : null;
        var chatStops = new HashSet<int>(vocab.EndOfGeneration);
        if (vocab.TryGetId(ChatMl.End, out int end)) chatStops.Add(end);
        ChatStopTokens = chatStops;
    }

    public string ModelId { get; }
    public long Created { get; }
    public int Context => _executor.Context;
    public Tokenizer Tokenizer { get; }
    public RuntimeCounters Counters => _executor.Counters;
    public Placement Placement => _served.Placement;
    /// <summary>The expert cache's counters; null when no cache streams (resident, or left to the page cache).</summary>
    public Runtime.Streaming.StreamingCounters? Streaming => _served.Streaming;
    public ServerMetrics Metrics { get; } = new();
    public bool HasChatMarkers { get; }
    private IReadOnlySet<int> ChatStopTokens { get; }
    public bool Busy => Volatile.Read(ref _admitted) > 0;
    public int Waiting => Math.Max(0, Volatile.Read(ref _admitted) - 1);

    /// <summary>Prompt text to tokens, as <c>hybrid run</c> encodes it (BOS as the vocabulary asks, specials parsed).</summary>
    public int[] Encode(string text)
    {
        lock (_tokenizerLock) return Tokenizer.Encode(text, addSpecial: true, parseSpecial: true);
    }

    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages) =>
        Encode(_template is { } t
            ? t.Render(messages, addAssistant: true)
            : ChatMl.Render(messages, HasChatMarkers));

    /// <summary>
    /// A place in line, or null when the queue is full (the caller answers 503). Dispose the lease to leave the line.
    /// </summary>
    public Lease? TryEnter()
    {
        if (Interlocked.Increment(ref _admitted) > 1 + _queueLimit)
        {
            Interlocked.Decrement(ref _admitted);
            Metrics.Refused();
            return null;
        }
        return new Lease(this);
    }

    /// <summary>
    /// Generates up to <paramref name="maxTokens"/> tokens after <paramref name="prompt"/>. Text goes to
    /// <paramref name="onText"/> as soon as it cannot be the start of a stop sequence; a cancelled
    /// <paramref name="cancel"/> ends the generation before the next token.
    /// </summary>
    public async Task<GenerationResult> GenerateAsync(Lease lease, int[] prompt, int maxTokens, SamplingOptions sampling,
        IReadOnlyList<string> stop, bool chat, Func<string, Task>? onText, CancellationToken cancel)
    {
        if (!lease.Holding) throw new InvalidOperationException("the lease does not hold the model");
        var sampler = new Sampler(_executor.Vocab, sampling);
        var stops = new StopMatcher(stop);
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[64];
        var text = new StringBuilder();
        int emitted = 0, count = 0;
        var finish = FinishReason.Length;
        IReadOnlySet<int> stopTokens = chat ? ChatStopTokens : Tokenizer.Vocabulary.EndOfGeneration;
        Metrics.Started();
        try
        {
            foreach (int id in Generator.Generate(_executor, prompt, maxTokens, sampler, stopTokens))
            {
                if (cancel.IsCancellationRequested) { finish = FinishReason.Cancelled; break; }
                count++;
                if (stopTokens.Contains(id)) { finish = FinishReason.Stop; break; }
                var bytes = Tokenizer.TokenToPieceBytes(id, renderSpecial: false);
                if (chars.Length < bytes.Length + 8) chars = new char[bytes.Length + 8];
                text.Append(chars, 0, decoder.GetChars(bytes, chars, flush: false));
                var (safeEnd, hit) = stops.Scan(text, emitted);
                if (safeEnd > emitted && onText != null) await onText(text.ToString(emitted, safeEnd - emitted));
                emitted = safeEnd;
                if (hit) { text.Length = safeEnd; finish = FinishReason.Stop; break; }
            }
            // Text held back as a possible stop-sequence start is sent at the end. Bytes of an unfinished UTF-8
            // character are dropped, as hybrid run drops them, so both print the same text.
            if (finish != FinishReason.Cancelled && emitted < text.Length)
            {
                if (onText != null) await onText(text.ToString(emitted, text.Length - emitted));
                emitted = text.Length;
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            finish = FinishReason.Cancelled;
        }
        catch (IOException) when (cancel.IsCancellationRequested)
        {
            finish = FinishReason.Cancelled;
        }
        Metrics.Finished(count, finish);
        return new GenerationResult(text.ToString(), prompt.Length, count, finish);
    }

    public void Dispose()
    {
        _executor.Dispose();
        _served.Owner.Dispose();
        _turn.Dispose();
    }

    /// <summary>A request's place in line; <see cref="WaitAsync"/> returns when it holds the model.</summary>
    public sealed class Lease(ModelSession session) : IDisposable
    {
        private bool _disposed;
        public bool Holding { get; private set; }

        public async Task WaitAsync(CancellationToken cancel)
        {
            await session._turn.WaitAsync(cancel);
            Holding = true;
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (Holding) session._turn.Release();
            Interlocked.Decrement(ref session._admitted);
        }
    }
}
