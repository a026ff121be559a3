namespace HybridEngine.Runtime;

/// <summary>The outcome of a perplexity run.</summary>
/// <param name="Value">exp(mean negative log-likelihood) over every scored token.</param>
/// <param name="StandardError">Standard error of <see cref="Value"/>: ppl·sqrt(var(nll)/(count−1)), as llama-perplexity reports it.</param>
/// <param name="Chunks">Chunks of <see cref="Context"/> tokens evaluated.</param>
/// <param name="Context">Tokens per chunk.</param>
/// <param name="ScoredTokens">Tokens whose probability entered the mean: chunks·(context − context/2 − 1).</param>
/// <param name="Running">The running perplexity after each chunk.</param>
public sealed record PerplexityResult(double Value, double StandardError, int Chunks, int Context, int ScoredTokens, IReadOnlyList<double> Running);

/// <summary>
/// Chunked perplexity as llama.cpp's <c>llama-perplexity</c> computes it, so the figures are comparable: the token
/// stream is cut into ⌊tokens/context⌋ chunks of <c>context</c> tokens (the tail is dropped); each chunk is run from
/// an empty cache with its first token replaced by BOS when the vocabulary adds one; only the second half is scored
/// (the model then always has at least context/2 tokens of history): for j = context/2 .. context−2,
/// nll += −log softmax(logits_j)[token_{j+1}]. PPL = exp(Σnll / count).
/// </summary>
public static class Perplexity
{
    /// <summary>Runs every chunk through <paramref name="executor"/> (whose context must hold <paramref name="context"/>).</summary>
    /// <param name="tokens">The whole text's tokens, as tokenized with the vocabulary's special tokens (BOS) added.</param>
    /// <param name="bos">The id put in each chunk's first place, or null when the vocabulary adds no BOS.</param>
    /// <param name="chunkDone">Called after each chunk with its index and the running perplexity.</param>
    public static PerplexityResult Compute(Executor executor, int[] tokens, int context, int? bos, Action<int, double>? chunkDone = null)
    {
        if (context < 4) throw new ArgumentOutOfRangeException(nameof(context), $"the context must be at least 4 tokens, not {context}");
        if (context > executor.Context)
            throw new ArgumentException($"chunks of {context} tokens do not fit the executor's context of {executor.Context}", nameof(context));
        int chunks = tokens.Length / context;
        if (chunks < 1)
            throw new ArgumentException($"the text has {tokens.Length} tokens; at least one chunk of {context} is needed", nameof(tokens));

        int vocab = executor.Vocab;
        int first = context / 2;
        var chunk = new int[context];
        var logits = new float[context * vocab]; // [context, vocab]
        var running = new List<double>(chunks);
        double nll = 0, nll2 = 0;
        int count = 0;
        for (int c = 0; c < chunks; c++)
        {
            tokens.AsSpan(c * context, context).CopyTo(chunk);
            if (bos is int b) chunk[0] = b;
            // Position 0 again: the cache rows of the previous chunk are overwritten, as llama.cpp clears its cache.
            executor.Forward(chunk, 0, logits, allLogits: true);
            for (int j = first; j < context - 1; j++)
            {
                double logProbability = LogSoftmaxAt(logits.AsSpan(j * vocab, vocab), chunk[j + 1]);
                nll -= logProbability;
                nll2 += logProbability * logProbability;
            }
            count += context - 1 - first;
            running.Add(Math.Exp(nll / count));
            chunkDone?.Invoke(c, running[^1]);
        }

        double mean = nll / count;
        double variance = nll2 / count - mean * mean;
        double ppl = Math.Exp(mean);
        double error = variance > 0 && count > 1 ? Math.Sqrt(variance / (count - 1)) * ppl : 0;
        return new PerplexityResult(ppl, error, chunks, context, count, running);
    }

    /// <summary>log softmax(x)[index] = x[index] − max − log Σ exp(x − max), the sum in double.</summary>
    public static double LogSoftmaxAt(ReadOnlySpan<float> x, int index)
    {
        float max = x[0];
        for (int i = 1; i < x.Length; i++) max = Math.Max(max, x[i]);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] - max);
        return x[index] - max - Math.Log(sum);
    }
}
