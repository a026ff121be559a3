using System.Diagnostics;

namespace HybridEngine.Runtime;

/// <summary>What <see cref="Benchmark"/> measures.</summary>
/// <param name="PromptTokens">Tokens of the prompt-processing test (pp); 0 skips it.</param>
/// <param name="GenTokens">Tokens of the generation test (tg); 0 skips it.</param>
/// <param name="Repetitions">Timed runs of each test, after one untimed warm-up run.</param>
/// <param name="Seed">Seed of the random token ids.</param>
public sealed record BenchOptions(int PromptTokens = 512, int GenTokens = 128, int Repetitions = 3, int Seed = 1234);

/// <summary>Mean and standard deviation over the repetitions of tokens per second.</summary>
public sealed record BenchFigure(int Tokens, double TokensPerSecond, double StandardDeviation, IReadOnlyList<double> Samples);

public sealed record BenchResult(BenchFigure? Prompt, BenchFigure? Generation);

/// <summary>
/// llama-bench's two tests, so the figures compare with it: <b>pp</b> runs a prompt of random tokens from an empty
/// cache in one forward call (batched as the executor allows) and <b>tg</b> generates tokens one decode step at a
/// time from an empty cache, each step fed a random token (sampling is not timed, as in llama-bench). Each test runs
/// once untimed to warm caches and page in the weights, then <see cref="BenchOptions.Repetitions"/> times; the figure
/// is the mean of the per-run tokens/s.
/// </summary>
public static class Benchmark
{
    public static BenchResult Run(Executor executor, BenchOptions options)
    {
        if (options.PromptTokens < 0 || options.GenTokens < 0) throw new ArgumentException("token counts must not be negative");
        if (options.Repetitions < 1) throw new ArgumentException($"at least one repetition is needed, not {options.Repetitions}");
        int needed = Math.Max(options.PromptTokens, options.GenTokens);
        if (needed > executor.Context)
            throw new ContextOverflowException($"the benchmark needs {needed} positions, but the context holds {executor.Context}.");
        var random = new Random(options.Seed);
        int vocab = executor.Vocab;
        var logits = new float[vocab];

        BenchFigure? prompt = null, generation = null;
        if (options.PromptTokens > 0)
        {
            int[] tokens = Enumerable.Range(0, options.PromptTokens).Select(_ => random.Next(vocab)).ToArray();
            prompt = Measure(options.PromptTokens, options.Repetitions, () => executor.Forward(tokens, 0, logits, allLogits: false));
        }
        if (options.GenTokens > 0)
        {
            int[] tokens = Enumerable.Range(0, options.GenTokens).Select(_ => random.Next(vocab)).ToArray();
            generation = Measure(options.GenTokens, options.Repetitions, () =>
            {
                for (int i = 0; i < tokens.Length; i++) executor.Forward(tokens.AsSpan(i, 1), i, logits, allLogits: false);
            });
        }
        return new BenchResult(prompt, generation);
    }

    /// <summary>One warm-up, then <paramref name="repetitions"/> timed runs of <paramref name="test"/>, which processes <paramref name="tokens"/> tokens.</summary>
    public static BenchFigure Measure(int tokens, int repetitions, Action test)
    {
        test();
        var samples = new double[repetitions];
        for (int r = 0; r < repetitions; r++)
        {
            long start = Stopwatch.GetTimestamp();
            test();
            samples[r] = tokens / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        double mean = samples.Average();
        double sd = repetitions > 1 ? Math.Sqrt(samples.Sum(s => (s - mean) * (s - mean)) / (repetitions - 1)) : 0;
        return new BenchFigure(tokens, mean, sd, samples);
    }
}
