using HybridEngine.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Models;

/// <summary>
/// The <c>llama</c> architecture (dense, and Mixtral-style MoE) against llama.cpp on the trained TinyStories model
/// and the two MoE files made from it: per-position distributions, greedy continuations, and the permuted-expert
/// file's equality with the dense model.
/// </summary>
public sealed class LlamaForwardTests(ITestOutputHelper output)
{
    public const string Dense = "stories260K.gguf";
    public const string Perm = "moe/stories260K-moe4top2-perm.gguf";
    public const string Scaled = "moe/stories260K-moe4top2-scaled.gguf";
    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. " +
        "One day, she saw a big red ball under a tree and she wanted to play with it. She ran to the tree and picked up the ball. It was shiny and new.";

    /// <summary>
    /// 64 tokens of real text (llama.cpp's own tokenization). Both engines compute in F32 (weights, activations and
    /// KV cache), so only summation order differs: the budget is the issue's KL ≤ 1e-4 nats and top-1 ≥ 99 %.
    /// </summary>
    [Theory]
    [InlineData(Dense)]
    [InlineData(Perm)]
    [InlineData(Scaled)]
    public void LogitsMatchLlamaCpp(string file)
    {
        string path = TestPaths.Data(file);
        int[] tokens = LlamaCppOracle.Tokenize(path, Story, addBos: true).Take(64).ToArray();
        Assert.Equal(64, tokens.Length);
        float[] reference = LlamaCppOracle.AllLogits(path, tokens);

        using var model = LoadedModel.Load(path);
        using var executor = model.CreateExecutor(new ExecutorOptions(Context: 128, BatchSize: 64, Threads: 2));
        float[] ours = executor.Forward(tokens, 0);

        var (meanKl, maxKl, top1) = LogitComparison.Compare(reference, ours, executor.Vocab);
        output.WriteLine($"{file}: mean KL {meanKl:E3}, max KL {maxKl:E3}, top-1 agreement {top1:P1}");
        Assert.True(meanKl <= 1e-4, $"mean KL {meanKl}");
        Assert.True(top1 >= 0.99, $"top-1 agreement {top1}");
    }

    /// <summary>Greedy continuation of BOS and of "Once upon a time": 64 tokens, each identical to llama.cpp's.</summary>
    [Theory]
    [InlineData(Dense, "")]
    [InlineData(Dense, "Once upon a time")]
    [InlineData(Perm, "")]
    [InlineData(Perm, "Once upon a time")]
    [InlineData(Scaled, "")]
    [InlineData(Scaled, "Once upon a time")]
    public void GreedyContinuationMatchesLlamaCpp(string file, string prompt)
    {
        const int count = 64;
        string path = TestPaths.Data(file);
        int[] promptTokens = LlamaCppOracle.Tokenize(path, prompt, addBos: true);
        int[] expected = LlamaCppOracle.Greedy(path, promptTokens, count);

        using var model = LoadedModel.Load(path);
        using var executor = model.CreateExecutor(new ExecutorOptions(Context: 256, BatchSize: 32, Threads: 2));
        int[] actual = Greedy(executor, promptTokens, count);
        output.WriteLine($"{file} '{prompt}': {string.Join(",", actual)}");
        Assert.Equal(expected, actual);
    }

    /// <summary>
    /// Each expert of the permuted file is the dense FFN with its hidden units permuted, and top-2 weights are
    /// renormalised to sum 1, so its logits equal the dense model's up to float rounding (summation order in the
    /// down projection, and w₁ + w₂ = 1 only to one ulp): tolerance 1e-4 of the logit spread per position.
    /// </summary>
    [Fact]
    public void PermutedExpertsEqualTheDenseModel()
    {
        int[] tokens = Enumerable.Range(0, 48).Select(i => i == 0 ? 1 : (i * 37 + 11) % 512).ToArray();
        float[] dense = Run(Dense, tokens, out int vocab);
        float[] perm = Run(Perm, tokens, out _);
        double worst = 0;
        for (int t = 0; t < tokens.Length; t++)
        {
            var d = dense.AsSpan(t * vocab, vocab);
            var p = perm.AsSpan(t * vocab, vocab);
            double spread = System.Numerics.Tensors.TensorPrimitives.Max(d) - System.Numerics.Tensors.TensorPrimitives.Min(d);
            for (int i = 0; i < vocab; i++) worst = Math.Max(worst, Math.Abs(d[i] - p[i]) / spread);
        }
        output.WriteLine($"largest |dense − perm| / spread: {worst:E2}");
        Assert.True(worst <= 1e-4, $"relative difference {worst}");
        // The scaled file really routes differently, so the check above is not vacuous.
        float[] scaled = Run(Scaled, tokens, out _);
        Assert.True(dense.Zip(scaled, (a, b) => Math.Abs(a - b)).Max() > 1e-2);
    }

    /// <summary>
    /// Prefill in one batch (matrix-matrix) and one token at a time (matrix-vector, cache reused) are the same
    /// computation in the same order, so the logits agree to float rounding of the attention sums (1e-5 of spread).
    /// </summary>
    [Theory]
    [InlineData(Dense)]
    [InlineData(Scaled)]
    public void BatchedPrefillEqualsTokenByToken(string file)
    {
        using var model = LoadedModel.Load(TestPaths.Data(file));
        int[] tokens = Enumerable.Range(0, 20).Select(i => (i * 53 + 1) % 512).ToArray();
        using var batched = model.CreateExecutor(new ExecutorOptions(Context: 32, BatchSize: 8, Threads: 2));
        float[] all = batched.Forward(tokens, 0);
        using var single = model.CreateExecutor(new ExecutorOptions(Context: 32, BatchSize: 8, Threads: 1));
        int vocab = single.Vocab;
        var row = new float[vocab];
        for (int t = 0; t < tokens.Length; t++)
        {
            single.Forward(tokens.AsSpan(t, 1), t, row, allLogits: false);
            var expected = all.AsSpan(t * vocab, vocab);
            double spread = System.Numerics.Tensors.TensorPrimitives.Max(expected) - System.Numerics.Tensors.TensorPrimitives.Min(expected);
            for (int i = 0; i < vocab; i++) Assert.True(Math.Abs(expected[i] - row[i]) <= 1e-5 * spread, $"token {t}, logit {i}");
        }
        Assert.Equal(1, single.Counters.PrefillTokens);
        Assert.Equal(tokens.Length - 1, single.Counters.DecodeTokens);
    }

    /// <summary>
    /// Perplexity over the start of the shared WikiText text (BOS + 255 tokens from this engine's tokenizer), from
    /// this engine's logits and from llama.cpp's: within 1 % (the issue's bound; F32 logits agree far closer).
    /// </summary>
    [Theory]
    [InlineData(Dense)]
    [InlineData(Scaled)]
    public void PerplexityMatchesLlamaCpp(string file)
    {
        string path = TestPaths.Data(file);
        using var model = LoadedModel.Load(path);
        var tokenizer = HybridEngine.Tokenization.Tokenizer.FromGguf(model.File);
        string text = File.ReadAllText(TestPaths.Data("wiki.test.raw"))[..4000];
        int[] tokens = tokenizer.Encode(text, addSpecial: true, parseSpecial: false).Take(256).ToArray();
        Assert.Equal(256, tokens.Length);
        using var executor = model.CreateExecutor(new ExecutorOptions(Context: 256, BatchSize: 128, Threads: 2));
        double ours = Perplexity(executor.Forward(tokens, 0), tokens, executor.Vocab);
        double reference = Perplexity(LlamaCppOracle.AllLogits(path, tokens), tokens, executor.Vocab);
        output.WriteLine($"{file}: perplexity {ours:F4} (llama.cpp {reference:F4}), ratio {ours / reference:F8}");
        Assert.InRange(ours / reference, 0.99, 1.01);
    }

    /// <summary>exp of the mean negative log-likelihood of each next token.</summary>
    private static double Perplexity(float[] logits, int[] tokens, int vocab)
    {
        double nll = 0;
        for (int t = 0; t + 1 < tokens.Length; t++)
        {
            var row = logits.AsSpan(t * vocab, vocab);
            double max = System.Numerics.Tensors.TensorPrimitives.Max(row), sum = 0;
            foreach (float v in row) sum += Math.Exp(v - max);
            nll -= row[tokens[t + 1]] - max - Math.Log(sum);
        }
        return Math.Exp(nll / (tokens.Length - 1));
    }

    private float[] Run(string file, int[] tokens, out int vocab)
    {
        using var model = LoadedModel.Load(TestPaths.Data(file));
        using var executor = model.CreateExecutor(new ExecutorOptions(Context: 64, BatchSize: 64, Threads: 2));
        vocab = executor.Vocab;
        return executor.Forward(tokens, 0);
    }

    /// <summary>Prefill the prompt, then decode one token at a time by argmax.</summary>
    internal static int[] Greedy(Executor executor, int[] prompt, int count)
    {
        var logits = new float[executor.Vocab];
        executor.Forward(prompt, 0, logits, allLogits: false);
        var generated = new int[count];
        int position = prompt.Length;
        for (int n = 0; n < count; n++)
        {
            generated[n] = LlamaCppOracle.ArgMax(logits);
            if (n + 1 < count) executor.Forward(generated.AsSpan(n, 1), position++, logits, allLogits: false);
        }
        return generated;
    }
}
