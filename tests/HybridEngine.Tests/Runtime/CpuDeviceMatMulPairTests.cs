using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using HybridEngine.Tests.Kernels.Dot;
using Xunit;

namespace HybridEngine.Tests.Runtime;

/// <summary>
/// <see cref="CpuDevice.MatMulPair"/> (gate and up sharing one quantization of x) gives exactly the results of two
/// separate <see cref="CpuDevice.MatMul(in WeightMatrix, ReadOnlySpan{float}, int, Span{float}, Span{byte})"/> calls:
/// both quantize x the same way and run the same kernels, so equality is bitwise. Covers a shared activation type
/// (Q4_K with Q4_K), different ones (Q4_K with Q8_0: two quantizations), one token (matvec) and a batch, and a pool.
/// </summary>
public class CpuDeviceMatMulPairTests
{
    [Theory]
    [InlineData(GgmlType.Q4_K, GgmlType.Q4_K, 1, 1)]
    [InlineData(GgmlType.Q4_K, GgmlType.Q4_K, 5, 2)]
    [InlineData(GgmlType.Q4_K, GgmlType.Q8_0, 1, 2)]
    [InlineData(GgmlType.Q8_0, GgmlType.Q5_0, 3, 1)]
    public unsafe void Pair_equals_two_products(GgmlType typeA, GgmlType typeB, int tokens, int threads)
    {
        const int rows = 48, cols = 512;
        var rawA = DotTestData.RandomWeights(typeA, rows * cols / QuantTypes.Get(typeA).BlockSize, 11);
        var rawB = DotTestData.RandomWeights(typeB, rows * cols / QuantTypes.Get(typeB).BlockSize, 12);
        var x = DotTestData.Activations(tokens * cols, 13);
        var pairA = new float[tokens * rows];
        var pairB = new float[tokens * rows];
        var soloA = new float[tokens * rows];
        var soloB = new float[tokens * rows];
        var scratch = new byte[tokens * cols * 2];
        using var pool = threads > 1 ? new ComputePool(threads) : null;
        var cpu = new CpuDevice(pool);
        fixed (byte* pa = rawA)
        fixed (byte* pb = rawB)
        {
            var a = new WeightMatrix(pa, typeA, rows, cols);
            var b = new WeightMatrix(pb, typeB, rows, cols);
            cpu.MatMulPair(a, b, x, tokens, pairA, pairB, scratch);
            cpu.MatMul(a, x, tokens, soloA, scratch);
            cpu.MatMul(b, x, tokens, soloB, scratch);
        }
        Assert.Equal(soloA, pairA);
        Assert.Equal(soloB, pairB);
        Assert.Contains(soloA, v => v != 0);   // the products are not trivially zero
    }
}
