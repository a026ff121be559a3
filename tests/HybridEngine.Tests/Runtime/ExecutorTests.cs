using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Runtime;

/// <summary>
/// The executor on every architecture (tiny seeded models): a batched prompt and the same tokens decoded one at a
/// time through the cache give the same logits, and decoding allocates nothing on the calling thread.
/// </summary>
public sealed class ExecutorTests : IDisposable
{
    private readonly string _dir = TestPaths.NewScratchDirectory();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> Architectures() => new()
    {
        { "llama", "k_b_v_b" }, { "mixtral", "k_b_v_b" }, { "qwen3moe", "k_b_v_b" }, { "deepseek2", "k_b_v_b" }, { "deepseek2", "kv_b" },
    };

    /// <summary>
    /// Matrix-matrix (batch of 7, so batches straddle) and matrix-vector kernels compute each row the same way, so
    /// only the attention over cached rows could differ: 1e-5 of the logit spread (F32 weights).
    /// </summary>
    [Theory]
    [MemberData(nameof(Architectures))]
    public void BatchedPromptEqualsTokenByTokenDecode(string arch, string layout)
    {
        using var model = LoadedModel.Load(Write(arch, layout));
        using var batched = model.CreateExecutor(new ExecutorOptions(Context: 24, BatchSize: 7, Threads: 2));
        using var single = model.CreateExecutor(new ExecutorOptions(Context: 24, BatchSize: 7, Threads: 2));
        int vocab = batched.Vocab;
        int[] tokens = Enumerable.Range(0, 20).Select(i => (i * 41 + 3) % vocab).ToArray();
        float[] all = batched.Forward(tokens, 0);
        var row = new float[vocab];
        for (int t = 0; t < tokens.Length; t++)
        {
            single.Forward(tokens.AsSpan(t, 1), t, row, allLogits: false);
            var expected = all.AsSpan(t * vocab, vocab);
            float spread = System.Numerics.Tensors.TensorPrimitives.Max(expected) - System.Numerics.Tensors.TensorPrimitives.Min(expected);
            for (int i = 0; i < vocab; i++)
                Assert.True(Math.Abs(expected[i] - row[i]) <= 1e-5f * spread, $"{arch} token {t} logit {i}: {expected[i]} vs {row[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void DecodingAllocatesNothing(string arch, string layout)
    {
        using var model = LoadedModel.Load(Write(arch, layout));
        using var executor = model.CreateExecutor(new ExecutorOptions(Context: 64, BatchSize: 8, Threads: 2));
        var logits = new float[executor.Vocab];
        int[] next = [1];
        executor.Forward([1, 2, 3, 4], 0, logits, allLogits: false);
        for (int p = 4; p < 8; p++) executor.Forward(next, p, logits, allLogits: false);   // warm up (JIT, tables)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int p = 8; p < 40; p++)
        {
            next[0] = (p * 7) % executor.Vocab;
            executor.Forward(next, p, logits, allLogits: false);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private string Write(string arch, string layout)
    {
        string path = Path.Combine(_dir, $"{arch}-{layout}.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec(arch, "tiny"),
            new SyntheticOptions(GgmlType.F32, Seed: 9, Layout: layout == "kv_b" ? MlaLayout.KvB : MlaLayout.KbVb), path);
        return path;
    }
}
