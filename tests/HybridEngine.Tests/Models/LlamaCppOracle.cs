using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;

namespace HybridEngine.Tests.Models;

/// <summary>
/// llama.cpp (through LLamaSharp) as the reference for whole forward passes: the logits of every position of a
/// token sequence, greedy continuations and tokenization. F32 KV cache and no flash attention, so that llama.cpp
/// computes attention in F32 as this engine does.
/// </summary>
internal static class LlamaCppOracle
{
    private static readonly object Gate = new();

    /// <summary>Logits of every position, [tokens, vocab] row-major.</summary>
    /// <param name="f16Cache">Use llama.cpp's default F16 KV cache instead of F32 (to measure its own sensitivity).</param>
    public static float[] AllLogits(string path, IReadOnlyList<int> tokens, bool f16Cache = false)
    {
        lock (Gate)
        {
            using var weights = LlamaCpp.Load(path);
            var parameters = Parameters(path, tokens.Count);
            if (f16Cache) parameters.TypeK = parameters.TypeV = GGMLType.GGML_TYPE_F16;
            using var context = weights.CreateContext(parameters);
            int vocab = weights.Vocab.Count;
            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Count; i++) batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, true);
            Check(context.NativeHandle.Decode(batch));
            var result = new float[tokens.Count * vocab];
            for (int i = 0; i < tokens.Count; i++) context.NativeHandle.GetLogitsIth(i).CopyTo(result.AsSpan(i * vocab, vocab));
            return result;
        }
    }

    /// <summary>The prompt followed by <paramref name="count"/> tokens chosen by argmax, one decode call each.</summary>
    public static int[] Greedy(string path, IReadOnlyList<int> prompt, int count)
    {
        lock (Gate)
        {
            using var weights = LlamaCpp.Load(path);
            using var context = weights.CreateContext(Parameters(path, prompt.Count + count));
            var generated = new List<int>();
            var batch = new LLamaBatch();
            for (int i = 0; i < prompt.Count; i++) batch.Add((LLamaToken)prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);
            Check(context.NativeHandle.Decode(batch));
            int position = prompt.Count;
            int last = prompt.Count - 1;
            for (int n = 0; n < count; n++)
            {
                int next = ArgMax(context.NativeHandle.GetLogitsIth(last));
                generated.Add(next);
                batch.Clear();
                batch.Add((LLamaToken)next, position++, LLamaSeqId.Zero, true);
                Check(context.NativeHandle.Decode(batch));
                last = 0;
            }
            return generated.ToArray();
        }
    }

    /// <summary>llama.cpp's tokenization of <paramref name="text"/>, with BOS when the model adds one.</summary>
    public static int[] Tokenize(string path, string text, bool addBos)
    {
        lock (Gate)
        {
            using var weights = LlamaCpp.Load(path);
            return weights.Tokenize(text, addBos, special: false, Encoding.UTF8).Select(t => (int)t).ToArray();
        }
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private static ModelParams Parameters(string path, int tokens) => new(path)
    {
        ContextSize = (uint)Math.Max(64, tokens + 8),
        BatchSize = (uint)Math.Max(64, tokens),
        UBatchSize = (uint)Math.Max(64, tokens),
        Threads = 2,
        TypeK = GGMLType.GGML_TYPE_F32,
        TypeV = GGMLType.GGML_TYPE_F32,
        FlashAttention = false,
    };

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {result}");
    }
}

/// <summary>Distances between two sets of per-position logits.</summary>
internal static class LogitComparison
{
    /// <summary>Mean over positions of KL(p_ref ‖ p_ours) in nats, and the fraction of positions whose argmax agrees.</summary>
    public static (double MeanKl, double MaxKl, double Top1) Compare(float[] reference, float[] ours, int vocab)
    {
        int positions = reference.Length / vocab;
        double sum = 0, max = 0;
        int agree = 0;
        for (int t = 0; t < positions; t++)
        {
            var r = reference.AsSpan(t * vocab, vocab);
            var o = ours.AsSpan(t * vocab, vocab);
            double kl = Kl(r, o);
            sum += kl;
            max = Math.Max(max, kl);
            if (LlamaCppOracle.ArgMax(r) == LlamaCppOracle.ArgMax(o)) agree++;
        }
        return (sum / positions, max, agree / (double)positions);
    }

    /// <summary>
    /// Our engine and llama.cpp over the same 64 seeded random tokens of <paramref name="model"/> (the file at
    /// <paramref name="path"/>): one prompt of 64 positions in batches of 32, every position's logits compared.
    /// </summary>
    public static (double MeanKl, double MaxKl, double Top1) AgainstLlamaCpp(HybridEngine.Runtime.LoadedModel model, string path)
    {
        using var executor = model.CreateExecutor(new HybridEngine.Runtime.ExecutorOptions(Context: 64, BatchSize: 32, Threads: 2));
        int vocab = executor.Vocab;
        var random = new Random(17);
        int[] tokens = Enumerable.Range(0, 64).Select(_ => random.Next(vocab)).ToArray();
        float[] ours = executor.Forward(tokens, 0);
        return Compare(LlamaCppOracle.AllLogits(path, tokens), ours, vocab);
    }

    /// <summary>KL(softmax(a) ‖ softmax(b)) in double.</summary>
    public static double Kl(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double la = LogSumExp(a), lb = LogSumExp(b), kl = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double lpa = a[i] - la, lpb = b[i] - lb;
            kl += Math.Exp(lpa) * (lpa - lpb);
        }
        return Math.Max(0, kl);
    }

    private static double LogSumExp(ReadOnlySpan<float> x)
    {
        double m = double.NegativeInfinity;
        foreach (float v in x) m = Math.Max(m, v);
        double s = 0;
        foreach (float v in x) s += Math.Exp(v - m);
        return m + Math.Log(s);
    }
}
