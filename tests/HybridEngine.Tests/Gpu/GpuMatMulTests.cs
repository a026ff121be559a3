using HybridEngine.Gpu;
using HybridEngine.Gpu.Kernels;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// The in-kernel-dequantizing GPU matrix product against its CPU references, for every weight type the GPU supports.
/// </summary>
public sealed unsafe class GpuMatMulTests(GpuTestDevice fixture) : IClassFixture<GpuTestDevice>
{
    private readonly GpuDevice _gpu = fixture.Device;

    public static TheoryData<GgmlType> Types() => new(GpuDevice.SupportedTypes);

    /// <summary>
    /// (rows, blocks per row, tokens): rows 1, 3, 37 (none a multiple of a warp); 1–7 blocks; batches 1–5 and a
    /// 33-token prefill batch (one more than a warp), each value at least once. Rows 1, 3, 37 are not multiples of the
    /// kernel's rows per warp (2) or per group (8) either; a 9-row shape per type spans 2 full shared x chunks and part
    /// of a third (<see cref="QuantMatMulKernel.ChunkValues"/>).
    /// </summary>
    private static readonly (int Rows, int Blocks, int Tokens)[] Shapes =
        [(1, 1, 1), (3, 2, 5), (37, 7, 2), (3, 5, 3), (37, 3, 4), (1, 7, 5), (37, 1, 1), (3, 4, 1), (1, 6, 2), (37, 1, 33)];

    /// <summary>
    /// Exact reference: the type's own CPU dequantizer (<c>QuantTypes.Dequantize</c>) then a double-precision dot.
    /// The kernel sums n ≤ 7·256 float products in a different order, so its error is bounded by about n·2⁻²⁴·Σ|w·x|;
    /// the tolerance is that bound with n = RowLength + 32 (lane tree). A wrong nibble, scale or offset is off by a
    /// whole quantization step of one value, far above it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Matches_the_dequantize_then_dot_reference(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        var random = new Random(1234 + (int)type);
        foreach (var (rows, blocks, tokens) in Shapes.Append((9, 2 * QuantMatMulKernel.ChunkValues / info.BlockSize + 3, 2)))
        {
            int rowLength = blocks * info.BlockSize;
            byte[] raw = RandomWeights(info, rows, rowLength, random);
            float[] x = RandomFloats(random, tokens * rowLength);
            float[] weights = Dequantized(info, raw, rows, rowLength);
            float[] y = new float[tokens * rows];
            fixed (byte* p = raw)
            {
                using var handle = _gpu.Upload(new WeightMatrix(p, type, rows, rowLength));
                Assert.Equal(raw.Length, handle.DeviceBytes);   // raw blocks, not a float copy
                _gpu.MatMul(handle, x, tokens, y);
            }
            for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                double exact = 0, magnitude = 0;
                for (int k = 0; k < rowLength; k++)
                {
                    double term = (double)weights[r * rowLength + k] * x[t * rowLength + k];
                    exact += term;
                    magnitude += Math.Abs(term);
                }
                double tolerance = (rowLength + 32) * Math.Pow(2, -24) * magnitude + 1e-6;
                Assert.True(Math.Abs(y[t * rows + r] - exact) <= tolerance,
                    $"{info.Name} rows={rows} blocks={blocks} tokens={tokens} [t={t}, r={r}]: gpu {y[t * rows + r]} vs {exact} (tol {tolerance:g3})");
            }
        }
    }

    /// <summary>
    /// Against the CPU device's integer kernels, which quantize x to Q8_0/Q8_K (relative step ≤ 1/127 per block), so
    /// the two agree to about 1/127·Σ|w·x|; 0.01·Σ|w·x| is stated here. Shows both devices compute the same product.
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Matches_the_cpu_device(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        var random = new Random(99 + (int)type);
        using var cpu = new CpuDevice();
        const int rows = 37, tokens = 3;
        int rowLength = 2 * Math.Max(info.BlockSize, 32);
        byte[] raw = RandomWeights(info, rows, rowLength, random);
        float[] x = RandomFloats(random, tokens * rowLength);
        float[] weights = Dequantized(info, raw, rows, rowLength);
        float[] gpuY = new float[tokens * rows], cpuY = new float[tokens * rows];
        fixed (byte* p = raw)
        {
            var matrix = new WeightMatrix(p, type, rows, rowLength);
            using var onGpu = _gpu.Upload(matrix);
            using var onCpu = cpu.Upload(matrix);
            _gpu.MatMul(onGpu, x, tokens, gpuY);
            cpu.MatMul(onCpu, x, tokens, cpuY);
        }
        for (int t = 0; t < tokens; t++)
        for (int r = 0; r < rows; r++)
        {
            double magnitude = 0;
            for (int k = 0; k < rowLength; k++) magnitude += Math.Abs((double)weights[r * rowLength + k] * x[t * rowLength + k]);
            Assert.True(Math.Abs(gpuY[t * rows + r] - cpuY[t * rows + r]) <= 0.01 * magnitude + 1e-6,
                $"{info.Name} [t={t}, r={r}]: gpu {gpuY[t * rows + r]} vs cpu {cpuY[t * rows + r]}");
        }
    }

    [Fact]
    public void An_unsupported_type_is_refused_with_the_supported_list()
    {
        byte[] raw = new byte[98];
        fixed (byte* p = raw)
        {
            var matrix = new WeightMatrix(p, GgmlType.IQ3_XXS, 1, 256);
            var e = Assert.Throws<NotSupportedException>(() => _gpu.Upload(matrix));
            Assert.Contains("q4_K", e.Message);
        }
    }

    internal static byte[] RandomWeights(QuantTypeInfo info, int rows, int rowLength, Random random)
    {
        long rowBytes = info.RowBytes(rowLength);
        byte[] raw = new byte[rows * rowBytes];
        if (info.Quantize is null)
        {
            // No quantizer (IQ1_S, IQ2_XXS): random bytes are valid blocks (every index is in its grid) once the
            // leading f16 super-block scale is set to a modest normal value.
            random.NextBytes(raw);
            long blocks = raw.Length / info.BytesPerBlock;
            for (long b = 0; b < blocks; b++)
                BitConverter.TryWriteBytes(raw.AsSpan((int)(b * info.BytesPerBlock), 2), (Half)(0.01 + random.NextDouble() * 0.05));
            return raw;
        }
        float[] values = RandomFloats(random, rowLength);
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < rowLength; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * (1 + r % 3);
            info.Quantize!(values, raw.AsSpan((int)(r * rowBytes), (int)rowBytes));
        }
        return raw;
    }

    internal static float[] Dequantized(QuantTypeInfo info, byte[] raw, int rows, int rowLength)
    {
        long rowBytes = info.RowBytes(rowLength);
        float[] weights = new float[rows * rowLength];
        for (int r = 0; r < rows; r++)
            info.Dequantize!(raw.AsSpan((int)(r * rowBytes), (int)rowBytes), weights.AsSpan(r * rowLength, rowLength));
        return weights;
    }

    internal static float[] RandomFloats(Random random, int count)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
