using HybridEngine.Gguf;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Gguf;

/// <summary>
/// The real files under shared/data read as MANIFEST.md describes them: stories260K is llama, 5 layers, width 64,
/// 8 heads / 4 KV heads of dim 8, 512 tokens, all F32; the MoE files add 4 experts with 2 used.
/// </summary>
public class GgufSharedFileTests
{
    private const int Layers = 5, Width = 64, Heads = 8, KvHeads = 4, HeadDim = 8, Vocab = 512;

    [Fact]
    public void Stories260KHasTheManifestFacts()
    {
        using var file = GgufFile.Open(TestPaths.Data("stories260K.gguf"));
        Assert.Equal(3u, file.Version);
        Assert.Equal("llama", file.Architecture);
        Assert.Equal((uint)Layers, file.GetUInt32("llama.block_count"));
        Assert.Equal((uint)Width, file.GetUInt32("llama.embedding_length"));
        Assert.Equal((uint)Heads, file.GetUInt32("llama.attention.head_count"));
        Assert.Equal((uint)KvHeads, file.GetUInt32("llama.attention.head_count_kv"));
        Assert.Equal("llama", file.GetString("tokenizer.ggml.model"));
        Assert.Equal(Vocab, file.GetArray<string>("tokenizer.ggml.tokens").Length);
        Assert.Equal(Vocab, file.GetArray<float>("tokenizer.ggml.scores").Length);
        Assert.All(file.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));

        long ffn = file.GetUInt32("llama.feed_forward_length");
        Assert.Equal([Width, Vocab], file.GetTensor("token_embd.weight").Shape);
        Assert.Equal([Width], file.GetTensor("output_norm.weight").Shape);
        for (int layer = 0; layer < Layers; layer++)
        {
            string p = $"blk.{layer}.";
            Assert.Equal([Width, Heads * HeadDim], file.GetTensor(p + "attn_q.weight").Shape);
            Assert.Equal([Width, KvHeads * HeadDim], file.GetTensor(p + "attn_k.weight").Shape);
            Assert.Equal([Width, KvHeads * HeadDim], file.GetTensor(p + "attn_v.weight").Shape);
            Assert.Equal([Heads * HeadDim, Width], file.GetTensor(p + "attn_output.weight").Shape);
            Assert.Equal([Width, ffn], file.GetTensor(p + "ffn_gate.weight").Shape);
            Assert.Equal([Width, ffn], file.GetTensor(p + "ffn_up.weight").Shape);
            Assert.Equal([ffn, Width], file.GetTensor(p + "ffn_down.weight").Shape);
        }
        // 9 tensors per layer plus embeddings and the final norm; output.weight is optional (tied when absent).
        int modelLevel = 2 + (file.FindTensor("output.weight") != null ? 1 : 0);
        Assert.Equal(Layers * 9 + modelLevel, file.Tensors.Count);
        AssertDenseLayoutInsideTheFile(file);

        // Trained weights: finite, not all zero.
        float[] embd = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetTensorData(file.GetTensor("token_embd.weight"))).ToArray();
        Assert.All(embd, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(embd, v => v != 0);
    }

    [Theory]
    [InlineData("moe/stories260K-moe4top2-perm.gguf")]
    [InlineData("moe/stories260K-moe4top2-scaled.gguf")]
    public void MoeFilesHaveFourExpertsTwoUsed(string relative)
    {
        using var file = GgufFile.Open(TestPaths.Data(relative));
        Assert.Equal("llama", file.Architecture);
        Assert.Equal((uint)Layers, file.GetUInt32("llama.block_count"));
        Assert.Equal((uint)Width, file.GetUInt32("llama.embedding_length"));
        Assert.Equal(4u, file.GetUInt32("llama.expert_count"));
        Assert.Equal(2u, file.GetUInt32("llama.expert_used_count"));
        Assert.Equal(Vocab, file.GetArray<string>("tokenizer.ggml.tokens").Length);
        long ffn = file.GetUInt32("llama.feed_forward_length");
        for (int layer = 0; layer < Layers; layer++)
        {
            string p = $"blk.{layer}.";
            Assert.Equal([Width, 4], file.GetTensor(p + "ffn_gate_inp.weight").Shape);
            Assert.Equal([Width, ffn, 4], file.GetTensor(p + "ffn_gate_exps.weight").Shape);
            Assert.Equal([Width, ffn, 4], file.GetTensor(p + "ffn_up_exps.weight").Shape);
            Assert.Equal([ffn, Width, 4], file.GetTensor(p + "ffn_down_exps.weight").Shape);
            Assert.Null(file.FindTensor(p + "ffn_gate.weight"));
        }
        AssertDenseLayoutInsideTheFile(file);
    }

    [Fact]
    public void TheVersion1FileIsRefusedAsObsolete()
    {
        string path = TestPaths.Data("legacy/tinyllamas-stories-260k-f32.v1.gguf");
        var ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("byte offset 4", ex.Message);
        Assert.Contains("version 1", ex.Message);
        Assert.Contains("obsolete", ex.Message);
    }

    [Fact]
    public void VocabularyOnlyFilesOpenWithoutTensors()
    {
        string[] paths = Directory.GetFiles(TestPaths.Data("vocab"), "*.gguf");
        Assert.NotEmpty(paths);
        foreach (string path in paths)
        {
            using var file = GgufFile.Open(path);
            Assert.Empty(file.Tensors);
            Assert.Contains(file.GetString("tokenizer.ggml.model"), new[] { "gpt2", "llama" });
            Assert.NotEmpty(file.GetArray<string>("tokenizer.ggml.tokens"));
        }
    }

    [Fact]
    public void MissingFilesAreFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => GgufFile.Open(TestPaths.Data("no-such-file.gguf")));
    }

    /// <summary>
    /// llama.cpp writes tensors densely in info order, each padded to the alignment (SPEC 1.7), so the file size
    /// follows from the shapes alone; sizes here come from 4 bytes per F32 element, not from the reader.
    /// </summary>
    private static void AssertDenseLayoutInsideTheFile(GgufFile file)
    {
        long expectedOffset = 0;
        foreach (var t in file.Tensors)
        {
            Assert.Equal(GgmlType.F32, t.Type);
            long bytes = 4 * t.Shape.Aggregate(1L, (a, b) => a * b);
            Assert.Equal((ulong)expectedOffset, t.Offset);
            Assert.True(file.DataOffset + expectedOffset + bytes <= file.FileSize, $"{t.Name} lies inside the file");
            Assert.Equal(bytes, file.GetTensorData(t).Length);
            expectedOffset += (bytes + file.Alignment - 1) / file.Alignment * file.Alignment;
        }
        Assert.Equal(file.FileSize, file.DataOffset + expectedOffset);
    }
}
