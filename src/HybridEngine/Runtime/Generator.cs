namespace HybridEngine.Runtime;

/// <summary>Prompt in, tokens out: prefill the prompt in batches, then decode one token at a time.</summary>
public static class Generator
{
    /// <summary>
    /// Yields up to <paramref name="count"/> new tokens as they are produced, stopping after a token in
    /// <paramref name="stop"/>. The prompt plus the new tokens must fit the executor's context.
    /// </summary>
    public static IEnumerable<int> Generate(Executor executor, int[] prompt, int count, Sampler sampler, IReadOnlySet<int>? stop = null)
    {
        if (prompt.Length == 0) throw new ArgumentException("the prompt has no tokens", nameof(prompt));
        if (prompt.Length + count > executor.Context)
            throw new ContextOverflowException(
                $"a prompt of {prompt.Length} tokens plus {count} new ones needs {prompt.Length + count} positions, but the context holds {executor.Context}.");
        var logits = new float[executor.Vocab];
        var next = new int[1];
        executor.Forward(prompt, 0, logits, allLogits: false);
        int position = prompt.Length;
        for (int n = 0; n < count; n++)
        {
            next[0] = sampler.Sample(logits);
            yield return next[0];
            if (stop != null && stop.Contains(next[0])) yield break;
            if (n + 1 < count) executor.Forward(next, position++, logits, allLogits: false);
        }
    }
}
