using HybridEngine.Quantization;
using HybridEngine.Quantization.Formats;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>
/// The activation quantizers the dot products use (Q8_0, Q8_1, Q8_K) against ggml's reference C functions:
/// every byte and every dequantized float must be identical.
/// </summary>
public class ActivationQuantTests
{
    public static TheoryData<string> Kinds() => new(QuantTestData.InputKinds);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Q8_0QuantizeMatchesGgml(string kind)
    {
        for (int seed = 1; seed <= 3; seed++)
        {
            QuantTestData.AssertQuantizeMatchesGgml(GgmlType.Q8_0, QuantTestData.Input(kind, 1024, seed), $"q8_0 {kind} seed {seed}");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Q8_1QuantizeMatchesGgml(string kind)
    {
        for (int seed = 1; seed <= 3; seed++)
        {
            QuantTestData.AssertQuantizeMatchesGgml(GgmlType.Q8_1, QuantTestData.Input(kind, 1024, seed), $"q8_1 {kind} seed {seed}");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Q8_KQuantizeMatchesGgml(string kind)
    {
        for (int seed = 1; seed <= 3; seed++)
        {
            QuantTestData.AssertQuantizeMatchesGgml(GgmlType.Q8_K, QuantTestData.Input(kind, 1280, seed), $"q8_K {kind} seed {seed}");
        }
    }

    /// <summary>Exact halves: Q8_0 rounds them away from zero (roundf), Q8_K to even (nearest_int).</summary>
    [Fact]
    public void HalfwayValuesRoundLikeGgml()
    {
        // Largest magnitude 127 makes Q8_0's d = 1 and Q8_K's iscale = ±1, so every x.5 below is an exact tie.
        var x = new float[256];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 64) - 31.5f;
        x[0] = 127f;
        x[100] = -127f;
        QuantTestData.AssertQuantizeMatchesGgml(GgmlType.Q8_0, x, "q8_0 ties");
        QuantTestData.AssertQuantizeMatchesGgml(GgmlType.Q8_1, x, "q8_1 ties");
        x[100] = 0f;
        x[0] = -127f;
        QuantTestData.AssertQuantizeMatchesGgml(GgmlType.Q8_K, x, "q8_K ties");
    }

    /// <summary>
    /// The x86 CPU backend's SIMD Q8_0 rule (127/amax, halves to even) against ggml-cpu's x86 SIMD build, on gaussian
    /// rows and on exact ties, where it must differ from the reference rule.
    /// </summary>
    [Fact]
    public void Q8_0CpuBackendRuleMatchesGgmlCpuSimd()
    {
        // The SIMD builds of libggml-cpu cannot run without AVX; there the rule has nothing to be compared with.
        if (!System.Runtime.Intrinsics.X86.Avx.IsSupported) return;
        var ties = new float[64];
        for (int i = 0; i < ties.Length; i++) ties[i] = (i % 32) - 15.5f;
        ties[0] = 127f;
        ties[40] = -127f;
        var inputs = new List<float[]> { ties };
        for (int seed = 1; seed <= 3; seed++) inputs.Add(QuantTestData.Input("gaussian", 32 * 4096, seed));
        foreach (float[] x in inputs)
        {
            int bytes = x.Length / 32 * Q8_0Block.BytesPerBlock;
            byte[] expected = GgmlReference.QuantizeRowCpu("q8_0", x, bytes);
            var actual = new byte[bytes];
            Q8_0Block.QuantizeAsCpuBackend(x, actual);
            QuantTestData.AssertBytesEqual(expected, actual, Q8_0Block.BytesPerBlock, "q8_0 cpu backend rule");
        }
        var reference = new byte[2 * Q8_0Block.BytesPerBlock];
        Q8_0Block.Quantize(ties, reference);
        Assert.NotEqual(GgmlReference.QuantizeRowCpu("q8_0", ties, reference.Length), reference);
    }

    /// <summary>For Q8_1 and Q8_K the x86 CPU backend uses the reference rule, so the reference quantizers match it too.</summary>
    [Theory]
    [InlineData(GgmlType.Q8_1)]
    [InlineData(GgmlType.Q8_K)]
    public void ReferenceRuleMatchesGgmlCpuSimd(GgmlType type)
    {
        if (!System.Runtime.Intrinsics.X86.Avx.IsSupported) return;
        var info = QuantTypes.Get(type);
        foreach (string kind in new[] { "gaussian", "outliers", "steps" })
        {
            float[] x = QuantTestData.Input(kind, 256 * 512, 9);
            byte[] expected = GgmlReference.QuantizeRowCpu(info.Name, x, (int)info.RowBytes(x.Length));
            var actual = new byte[expected.Length];
            info.Quantize!(x, actual);
            QuantTestData.AssertBytesEqual(expected, actual, info.BytesPerBlock, $"{type} {kind} cpu backend");
        }
    }

    /// <summary>
    /// The scalar and vector block quantizers are separate code; the public entry points (checked against ggml
    /// above) take the vector one where Vector256 is hardware, so the two must agree bit for bit everywhere.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void ScalarAndVectorBlockQuantizersAgree(string kind)
    {
        float[] x = QuantTestData.Input(kind, 2048, 31);
        Span<sbyte> scalarQ = stackalloc sbyte[256], vectorQ = stackalloc sbyte[256];
        Span<short> scalarSums = stackalloc short[16], vectorSums = stackalloc short[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            var block = x.AsSpan(256 * b, 256);
            float ds = Q8_KBlock.QuantizeBlockScalar(block, scalarQ, scalarSums);
            float dv = Q8_KBlock.QuantizeBlockVector(block, vectorQ, vectorSums);
            Assert.Equal(BitConverter.SingleToInt32Bits(ds), BitConverter.SingleToInt32Bits(dv));
            Assert.True(scalarQ.SequenceEqual(vectorQ), $"q8_K {kind} block {b} quants");
            Assert.True(scalarSums.SequenceEqual(vectorSums), $"q8_K {kind} block {b} sums");
        }
        foreach (bool cpuRule in new[] { false, true })
        {
            for (int b = 0; b < x.Length / 32; b++)
            {
                var block = x.AsSpan(32 * b, 32);
                float ds = Q8_0Block.QuantizeBlockScalar(block, scalarQ, cpuRule);
                float dv = Q8_0Block.QuantizeBlockVector(block, vectorQ, cpuRule);
                Assert.Equal(BitConverter.SingleToInt32Bits(ds), BitConverter.SingleToInt32Bits(dv));
                Assert.True(scalarQ[..32].SequenceEqual(vectorQ[..32]), $"q8_0 {kind} cpuRule={cpuRule} block {b}");
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q8_K)]
    public void DequantizeMatchesGgml(GgmlType type)
    {
        for (int seed = 1; seed <= 4; seed++) QuantTestData.AssertDequantizeMatchesGgml(type, 16, seed);
    }

    /// <summary>ggml has no Q8_1 dequantizer; Q8_1's d and qs decode exactly like Q8_0's, so ggml's Q8_0 decoder is the oracle.</summary>
    [Fact]
    public void Q8_1DequantizeMatchesGgmlQ8_0OnSameFields()
    {
        const int blocks = 16;
        byte[] q81 = QuantTestData.RandomBlocks(GgmlType.Q8_1, blocks, 7);
        var q80 = new byte[blocks * Q8_0Block.BytesPerBlock];
        for (int b = 0; b < blocks; b++)
        {
            q81.AsSpan(b * 36, 2).CopyTo(q80.AsSpan(b * 34));
            q81.AsSpan(b * 36 + 4, 32).CopyTo(q80.AsSpan(b * 34 + 2));
        }
        float[] expected = GgmlReference.DequantizeRow("q8_0", q80, blocks * 32);
        var actual = new float[blocks * 32];
        Q8_1Block.Dequantize(q81, actual);
        QuantTestData.AssertBitsEqual(expected, actual, "q8_1 dequantize");
    }

    /// <summary>The allocation-free split-array overload and the accessors give the same numbers as ggml's packed blocks.</summary>
    [Theory]
    [InlineData("gaussian")]
    [InlineData("zeros")]
    [InlineData("sparse")]
    public void Q8_KSplitArraysMatchGgmlPackedBlocks(string kind)
    {
        const int blocks = 5;
        float[] x = QuantTestData.Input(kind, blocks * 256, 11);
        byte[] packed = GgmlReference.QuantizeRowRef("q8_K", x, blocks * Q8_KBlock.BytesPerBlock);

        var scales = new float[blocks];
        var quants = new sbyte[blocks * 256];
        var sums = new short[blocks * 16];
        sums.AsSpan().Fill(-1);
        Q8_KBlock.Quantize(x, scales, quants, sums);

        for (int b = 0; b < blocks; b++)
        {
            var block = packed.AsSpan(b * Q8_KBlock.BytesPerBlock, Q8_KBlock.BytesPerBlock);
            Assert.Equal(BitConverter.SingleToInt32Bits(Q8_KBlock.Scale(block)), BitConverter.SingleToInt32Bits(scales[b]));
            Assert.True(Q8_KBlock.Quants(block).SequenceEqual(quants.AsSpan(b * 256, 256)), $"block {b} quants");
            if (kind != "zeros")
            {
                // ggml leaves bsums unwritten for an all-zero block, so only non-zero blocks carry its sums.
                Assert.True(Q8_KBlock.GroupSums(block).SequenceEqual(sums.AsSpan(b * 16, 16)), $"block {b} sums");
            }
            else
            {
                Assert.All(sums.AsSpan(b * 16, 16).ToArray(), s => Assert.Equal(0, s));
            }
        }
    }

    /// <summary>The split-array Q8_0 overloads hold the packed blocks' numbers: fp16-rounded d and the same quants.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Q8_0SplitArraysMatchPackedBlocks(bool cpuRule)
    {
        // ggml-cpu's SIMD build, the oracle of the backend rule, needs AVX.
        if (cpuRule && !System.Runtime.Intrinsics.X86.Avx.IsSupported) return;
        const int blocks = 64;
        float[] x = QuantTestData.Input("outliers", blocks * 32, 13);
        byte[] packed = cpuRule
            ? GgmlReference.QuantizeRowCpu("q8_0", x, blocks * Q8_0Block.BytesPerBlock)
            : GgmlReference.QuantizeRowRef("q8_0", x, blocks * Q8_0Block.BytesPerBlock);
        var scales = new float[blocks];
        var quants = new sbyte[blocks * 32];
        if (cpuRule) Q8_0Block.QuantizeAsCpuBackend(x, scales, quants);
        else Q8_0Block.Quantize(x, scales, quants);
        for (int b = 0; b < blocks; b++)
        {
            var block = packed.AsSpan(b * 34, 34);
            Assert.Equal(Q8_0Block.Scale(block), scales[b]);
            Assert.True(Q8_0Block.Quants(block).SequenceEqual(quants.AsSpan(32 * b, 32)), $"block {b}");
        }
    }

    [Fact]
    public void Q8_0AccessorsReadGgmlBlocks()
    {
        float[] x = QuantTestData.Input("gaussian", 64, 3);
        byte[] packed = GgmlReference.QuantizeRowRef("q8_0", x, 2 * Q8_0Block.BytesPerBlock);
        float[] expected = GgmlReference.DequantizeRow("q8_0", packed, 64);
        for (int b = 0; b < 2; b++)
        {
            var block = packed.AsSpan(b * 34, 34);
            float d = Q8_0Block.Scale(block);
            var qs = Q8_0Block.Quants(block);
            for (int j = 0; j < 32; j++) Assert.Equal(expected[b * 32 + j], qs[j] * d);
        }
    }
}
