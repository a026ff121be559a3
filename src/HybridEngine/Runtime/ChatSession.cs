using HybridEngine.Tokenization;

namespace HybridEngine.Runtime;

/// <summary>
/// A conversation held in one executor's KV cache. Each turn renders the whole conversation with the chat template,
/// and only the tokens after the longest prefix already in the cache are run, so earlier turns are not recomputed
/// (a re-tokenized earlier reply that differs from the sampled tokens just shortens that prefix).
/// </summary>
public sealed class ChatSession
{
    private readonly Executor _executor;
    private readonly Tokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly Sampler _sampler;
    private readonly List<ChatMessage> _messages = [];
    private readonly List<int> _cached = []; // tokens whose keys and values are in the cache, positions 0..
    private readonly float[] _logits;
    private readonly int[] _next = new int[1];

    public ChatSession(Executor executor, Tokenizer tokenizer, ChatTemplate template, Sampler sampler, string? system = null)
    {
        _executor = executor;
        _tokenizer = tokenizer;
        _template = template;
        _sampler = sampler;
        _logits = new float[executor.Vocab];
        if (!string.IsNullOrEmpty(system)) _messages.Add(new ChatMessage("system", system));
    }

    public IReadOnlyList<ChatMessage> Messages => _messages;

    /// <summary>Tokens of the last turn's prompt that were already in the cache.</summary>
    public int ReusedTokens { get; private set; }

    /// <summary>Tokens of the last turn's prompt that were run.</summary>
    public int PromptTokensRun { get; private set; }

    /// <summary>
    /// Adds <paramref name="user"/> and yields the reply's tokens as they are sampled (the end-of-generation token,
    /// when reached, is not yielded); after the last one the reply is added to <see cref="Messages"/>.
    /// </summary>
    public IEnumerable<int> Reply(string user, int maxTokens)
    {
        _messages.Add(new ChatMessage("user", user));
        int[] prompt = _tokenizer.Encode(_template.Render(_messages, addAssistant: true), addSpecial: true, parseSpecial: true);
        int room = _executor.Context - prompt.Length;
        if (room <= 0)
        {
            _messages.RemoveAt(_messages.Count - 1);
            throw new ContextOverflowException($"the conversation needs {prompt.Length} positions, but the context holds {_executor.Context}.");
        }
        maxTokens = Math.Min(maxTokens, room);

        int reused = 0;
        while (reused < _cached.Count && reused < prompt.Length && _cached[reused] == prompt[reused]) reused++;
        if (reused == prompt.Length) reused--; // the last prompt token must run again for its logits
        ReusedTokens = reused;
        PromptTokensRun = prompt.Length - reused;
        _cached.RemoveRange(reused, _cached.Count - reused);
        _executor.Forward(prompt.AsSpan(reused), reused, _logits, allLogits: false);
        _cached.AddRange(prompt.AsSpan(reused));

        var reply = new List<int>();
        for (int n = 0; n < maxTokens; n++)
        {
            int token = _sampler.Sample(_logits);
            if (_tokenizer.Vocabulary.IsEndOfGeneration(token)) break;
            reply.Add(token);
            yield return token;
            if (n + 1 < maxTokens)
            {
                _next[0] = token;
                _executor.Forward(_next, _cached.Count, _logits, allLogits: false);
                _cached.Add(token);
            }
        }
        _messages.Add(new ChatMessage("assistant", _tokenizer.Decode(reply.ToArray())));
    }
}
