using System.Runtime.InteropServices;
using HybridEngine.Gguf;
using HybridEngine.Models;
using HybridEngine.Models.Synthetic;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Planning;

/// <summary>The inventory against file layouts, hand-made expert data and the parameter counts of SPEC 4.7.</summary>
public sealed class ModelInventoryTests
{
    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.F16)]
    public void SyntheticDeepseek2InventoryTilesTheFileDataSection(GgmlType type)
    {
        using var file = PlanningModels.SyntheticFile("deepseek2", "tiny", type);
        var inventory = ModelInventory.FromGguf(file);

        // The file's layout is the independent measure: each tensor ends (padded to the alignment) where the next
        // begins, and the last one at the end of the file. So the sizes the inventory reports are the bytes stored.
        var ordered = inventory.Tensors.OrderBy(t => t.Offset).ToList();
        long Align(long x) => (x + file.Alignment - 1) / file.Alignment * file.Alignment;
        for (int i = 0; i + 1 < ordered.Count; i++)
            Assert.Equal((long)ordered[i + 1].Offset, Align((long)ordered[i].Offset + ordered[i].Bytes));
        Assert.Equal(file.FileSize - file.DataOffset, Align((long)ordered[^1].Offset + ordered[^1].Bytes));

        Assert.Equal(file.Tensors.Count, inventory.Tensors.Length);
        Assert.Equal(inventory.TotalBytes, inventory.ClassBytes.Values.Sum());
        Assert.Equal(inventory.ClassBytes[TensorClass.RoutedExperts], inventory.RoutedExpertBytes);
        Assert.Equal(inventory.TotalBytes - inventory.RoutedExpertBytes, inventory.AlwaysUsedBytes);

        var spec = SyntheticModels.Spec("deepseek2", "tiny");
        Assert.Equal(spec.Layers - spec.DenseLeadLayers, inventory.MoeLayers.Length);
        Assert.All(inventory.MoeLayers, l => Assert.Equal(spec.Experts, l.Experts.Count));
        foreach (var cls in new[] { TensorClass.Embeddings, TensorClass.Attention, TensorClass.DenseFfn, TensorClass.SharedExperts, TensorClass.Router, TensorClass.Norms, TensorClass.Output })
            Assert.True(inventory.ClassBytes.GetValueOrDefault(cls) > 0, $"{cls} has no bytes");
    }

    [Fact]
    public void ExpertSlabsTileEachStackedTensorInExpertOrder()
    {
        using var file = PlanningModels.SyntheticFile("deepseek2", "tiny", GgmlType.Q4_K);
        var inventory = ModelInventory.FromGguf(file);
        foreach (var layer in inventory.MoeLayers)
        {
            var names = layer.Experts[0].Slabs.Select(s => s.TensorName).ToList();
            Assert.Equal(3, names.Count); // gate, up, down
            foreach (string name in names)
            {
                var tensor = file.GetTensor(name);
                long next = 0;
                foreach (var unit in layer.Experts)
                {
                    var slab = unit.Slabs.Single(s => s.TensorName == name);
                    Assert.Equal(next, slab.OffsetInTensor);
                    Assert.Equal(tensor.Offset + (ulong)slab.OffsetInTensor, slab.DataOffset);
                    next += slab.Bytes;
                }
                Assert.Equal(tensor.ByteSize, next);
            }
            Assert.All(layer.Experts, u => Assert.Equal(layer.ExpertBytes, u.Bytes));
        }
    }

    [Fact]
    public void SlabOfExpertEHoldsExactlyExpertEsRows()
    {
        // Hand-built file: ffn_*_exps hold, as F32, the value 1000·expert + row in every element, so reading a slab
        // back shows whose rows it covers without trusting any offset arithmetic.
        const int hidden = 32, ffn = 8, experts = 4;
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.String("qwen3moe"));
        w.Add("qwen3moe.embedding_length", GgufValue.UInt32(hidden));
        w.Add("qwen3moe.block_count", GgufValue.UInt32(1));
        w.Add("qwen3moe.expert_count", GgufValue.UInt32(experts));
        w.Add("qwen3moe.expert_used_count", GgufValue.UInt32(2));
        w.Add("qwen3moe.attention.head_count", GgufValue.UInt32(4));
        w.AddTensor("token_embd.weight", GgmlType.F32, [hidden, 10], new byte[hidden * 10 * 4]);
        w.AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [hidden, experts], new byte[hidden * experts * 4]);
        w.AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.F32, [hidden, ffn, experts], Marked(hidden, ffn, experts));
        w.AddTensor("blk.0.ffn_down_exps.weight", GgmlType.F32, [ffn, hidden, experts], Marked(ffn, hidden, experts));
        using var stream = new MemoryStream();
        w.WriteTo(stream);
        using var file = GgufFile.Parse(stream.ToArray());
        var inventory = ModelInventory.FromGguf(file);

        var layer = Assert.Single(inventory.MoeLayers);
        Assert.Equal((long)(hidden * ffn + ffn * hidden) * 4, layer.ExpertBytes);
        foreach (var unit in layer.Experts)
            foreach (var slab in unit.Slabs)
            {
                var tensor = file.GetTensor(slab.TensorName);
                var values = MemoryMarshal.Cast<byte, float>(file.GetTensorData(tensor, slab.OffsetInTensor, (int)slab.Bytes));
                long rows = tensor.Shape[1];
                for (int i = 0; i < values.Length; i++)
                    Assert.Equal(1000f * unit.Expert + i / tensor.Shape[0], values[i]);
                Assert.Equal(rows * tensor.Shape[0], values.Length);
            }
    }

    private static byte[] Marked(int rowLength, int rows, int experts)
    {
        var data = new float[rowLength * rows * experts];
        for (int e = 0; e < experts; e++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < rowLength; c++)
                    data[((e * rows) + r) * rowLength + c] = 1000f * e + r;
        return MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
    }

    [Fact]
    public void DeepSeekV3HeaderMatchesTheSpecParameterCounts()
    {
        // SPEC 4.7 (derived from the official shapes): at F32 every parameter is 4 bytes.
        var v3 = PlanningModels.HeaderOnly(PlanningModels.DeepSeekV3, GgmlType.F32);
        Assert.Equal(653_908_770_816L * 4, v3.RoutedExpertBytes);
        Assert.Equal(44_040_192L * 4, v3.MoeLayers[0].ExpertBytes);
        Assert.Equal(58, v3.MoeLayers.Length);
        Assert.Equal(2_554_331_136L * 4, v3.ClassBytes[TensorClass.SharedExperts]);
        Assert.Equal(1_189_085_184L * 4, v3.ClassBytes[TensorClass.DenseFfn]);
        Assert.Equal(11_413_422_080L * 4, v3.ClassBytes[TensorClass.Attention]);
        Assert.Equal(671_026_419_200L * 4, v3.TotalBytes);
    }

    [Fact]
    public void DeepSeekV2LiteHeaderMatchesTheSpecParameterCounts()
    {
        // SPEC 4.7, V2-Lite column, at F32.
        var lite = PlanningModels.HeaderOnly(SyntheticModels.Spec("deepseek2", "v2lite"), GgmlType.F32);
        Assert.Equal(14_394_851_328L * 4, lite.RoutedExpertBytes);
        Assert.Equal(449_839_104L * 4, lite.ClassBytes[TensorClass.SharedExperts]);
        Assert.Equal(67_239_936L * 4, lite.ClassBytes[TensorClass.DenseFfn]);
        Assert.Equal(371_589_120L * 4, lite.ClassBytes[TensorClass.Attention]);
        Assert.Equal(15_706_484_224L * 4, lite.TotalBytes);
        Assert.Equal(26 * 64, lite.ExpertCount);
    }

    [Fact]
    public void KvCacheBytesPerTokenFollowTheAttentionKind()
    {
        // deepseek2 caches the MLA latent and rope key: 61 layers × (512 + 64) × 4 bytes (the runtime's cache is f32).
        var v3 = PlanningModels.HeaderOnly(PlanningModels.DeepSeekV3, GgmlType.Q4_K);
        Assert.Equal(61L * (512 + 64) * 4, v3.KvBytesPerToken);
        // GQA caches keys and values per kv head: 48 layers × 2 × 4 heads × 128 × 4 bytes (Qwen3-30B-A3B).
        var qwen = PlanningModels.HeaderOnly(PlanningModels.Qwen3_30B_A3B, GgmlType.Q4_K);
        Assert.Equal(48L * 2 * 4 * 128 * 4, qwen.KvBytesPerToken);
        Assert.Equal(qwen.KvBytesPerToken * 8192, qwen.KvCacheBytes(8192));
        // The plan counts what the runtime allocates: one position of the runtime's cache for the same widths.
        Assert.Equal(v3.KvBytesPerToken, new HybridEngine.Runtime.KvCache(61, 1, 512 + 64, 0).Bytes);
        Assert.Equal(qwen.KvBytesPerToken, new HybridEngine.Runtime.KvCache(48, 1, 4 * 128, 4 * 128).Bytes);
        // Scratch grows with the context only through the attention scores (heads × context × f32, twice).
        Assert.Equal(2L * 4 * 32 * 1000, qwen.ActivationBytes(2000) - qwen.ActivationBytes(1000));
    }

    [Fact]
    public void ExpertTensorWhoseLastDimensionIsNotTheExpertCountIsRejected()
    {
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.String("qwen3moe"));
        w.Add("qwen3moe.embedding_length", GgufValue.UInt32(32));
        w.Add("qwen3moe.block_count", GgufValue.UInt32(1));
        w.Add("qwen3moe.expert_count", GgufValue.UInt32(4));
        w.AddTensor("blk.0.ffn_up_exps.weight", GgmlType.F32, [32, 8, 3], new byte[32 * 8 * 3 * 4]);
        using var stream = new MemoryStream();
        w.WriteTo(stream);
        using var file = GgufFile.Parse(stream.ToArray());
        var ex = Assert.Throws<GgufFormatException>(() => ModelInventory.FromGguf(file));
        Assert.Contains("blk.0.ffn_up_exps.weight", ex.Message);
        Assert.Contains("expert_count", ex.Message);
    }
}
