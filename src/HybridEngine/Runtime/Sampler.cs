namespace HybridEngine.Runtime;

/// <summary>
/// Sampling settings. A temperature of 0 (or below) is greedy: the argmax, whatever the other settings.
/// </summary>
/// <param name="TopK">Keep the k most likely tokens (0 = all).</param>
/// <param name="TopP">Keep the smallest set of most likely tokens whose probability reaches p (1 = all).</param>
/// <param name="MinP">Drop tokens less likely than min-p × the most likely one's probability (0 = none).</param>
/// <param name="Seed">Random seed; the same seed and settings give the same tokens. Null = a fresh seed.</param>
public sealed record SamplingOptions(float Temperature = 0f, int TopK = 40, float TopP = 0.95f, float MinP = 0.05f, int? Seed = null)
{
    public bool IsGreedy => Temperature <= 0f;

    public string? Validate()
    {
        if (float.IsNaN(Temperature)) return "--temp must be a number";
        if (TopK < 0) return $"--top-k must be 0 (off) or positive, not {TopK}";
        if (!(TopP > 0f && TopP <= 1f)) return $"--top-p must be in (0, 1], not {TopP}";
        if (!(MinP >= 0f && MinP < 1f)) return $"--min-p must be in [0, 1), not {MinP}";
        return null;
    }
}

/// <summary>
/// Picks the next token from logits, in llama.cpp's default order: top-k → top-p → min-p → temperature → draw.
/// <code>
///   p_i = softmax(logits)_i over the candidates left     (top-p and min-p are judged at temperature 1)
///   top-p: keep the shortest prefix (by p, descending) with Σ p ≥ P;   min-p: keep p_i ≥ P_min · p_max
///   draw i with probability ∝ exp((logit_i − max) / T)
/// </code>
/// Buffers are vocabulary-sized and allocated once.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _random;
    private readonly float[] _keys;   // negated logits: Array.Sort ascends, we want descending logits
    private readonly int[] _ids;

    public Sampler(int vocab, SamplingOptions options)
    {
        _options = options;
        _random = new Random(options.Seed ?? Random.Shared.Next());
        _keys = new float[vocab];
        _ids = new int[vocab];
    }

    public int Sample(ReadOnlySpan<float> logits)
    {
        if (_options.IsGreedy) return ArgMax(logits);
        int n = logits.Length;
        for (int i = 0; i < n; i++) { _keys[i] = -logits[i]; _ids[i] = i; }
        Array.Sort(_keys, _ids, 0, n);
        if (_options.TopK > 0) n = Math.Min(n, _options.TopK);

        // Probabilities at temperature 1 over the remaining candidates (sorted, so _keys[0] is −max).
        double max = -_keys[0], sum = 0;
        for (int i = 0; i < n; i++) sum += Math.Exp(-_keys[i] - max);
        if (_options.TopP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < n; i++)
            {
                cumulative += Math.Exp(-_keys[i] - max) / sum;
                if (cumulative >= _options.TopP) { n = i + 1; break; }
            }
        }
        if (_options.MinP > 0f)
        {
            // p_i ≥ minP · p_max  ⇔  logit_i ≥ max + ln(minP)
            double threshold = max + Math.Log(_options.MinP);
            int keep = 1;
            while (keep < n && -_keys[keep] >= threshold) keep++;
            n = keep;
        }

        double total = 0;
        for (int i = 0; i < n; i++) total += Math.Exp((-_keys[i] - max) / _options.Temperature);
        double r = _random.NextDouble() * total;
        for (int i = 0; i < n; i++)
        {
            r -= Math.Exp((-_keys[i] - max) / _options.Temperature);
            if (r <= 0) return _ids[i];
        }
        return _ids[n - 1];
    }

    /// <summary>The index of the largest logit (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
