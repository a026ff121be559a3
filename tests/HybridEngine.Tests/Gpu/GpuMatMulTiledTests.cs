using HybridEngine.Gpu;
using HybridEngine.Gpu.Kernels;
using HybridEngine.Quantization;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// The tiled matrix-matrix kernel (<see cref="QuantMatMulTiledKernel"/>) launched directly, for every weight type the
/// GPU supports, against the dequantize-then-dot reference and against the per-token kernel on the same inputs.
/// </summary>
public sealed unsafe class GpuMatMulTiledTests(GpuTestDevice fixture) : IClassFixture<GpuTestDevice>
{
    private readonly Accelerator _accelerator = fixture.Device.Accelerator;

    public static TheoryData<GgmlType> Types() => new(GpuDevice.SupportedTypes);

    /// <summary>
    /// (rows, blocks per row, tokens): tokens 2, 7, 8, 9, 33 (inside one tile of 8, exactly one, one past, four tiles
    /// and one token); rows 1, 7, 13 (none a multiple of the 8-row group, 1 and 7 not of the warp's 2 rows either).
    /// </summary>
    private static readonly (int Rows, int Blocks, int Tokens)[] Shapes =
        [(1, 1, 2), (7, 2, 7), (13, 1, 8), (7, 3, 9), (1, 2, 33), (13, 1, 33)];

    /// <summary>
    /// The tolerance of <see cref="GpuMatMulTests"/>: the kernels sum n ≤ RowLength float products in another order
    /// than the double reference, so each is within (RowLength + 32)·2⁻²⁴·Σ|w·x| (+1e-6) of it; the tiled kernel and
    /// the per-token kernel, each within that bound, are within twice it of each other. A wrong nibble, scale, token
    /// or row is off by a whole quantization step, far above it. A 9-row shape per type spans two full shared x chunks
    /// of the tiled kernel and part of a third (<see cref="QuantMatMulTiledKernel.ChunkValues"/>).
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Matches_the_reference_and_the_per_token_kernel(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        var random = new Random(4321 + (int)type);
        using var kernels = new GpuMatMulKernels(_accelerator);
        foreach (var (rows, blocks, tokens) in Shapes.Append((9, 2 * QuantMatMulTiledKernel.ChunkValues / info.BlockSize + 1, 9)))
        {
            int rowLength = blocks * info.BlockSize;
            var shape = Packed(info, rows, rowLength, tokens);
            var product = new Product(info, rows, rowLength, random, xLength: tokens * rowLength, yLength: tokens * rows);
            float[] tiled = product.Run(kernels.TiledFor(type), _accelerator, shape);
            float[] perToken = product.Run(kernels.PerTokenFor(type), _accelerator, shape);
            for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                var (exact, tolerance) = product.Reference(t * rowLength, r);
                string at = $"{info.Name} rows={rows} blocks={blocks} tokens={tokens} [t={t}, r={r}]";
                Assert.True(Math.Abs(tiled[t * rows + r] - exact) <= tolerance, $"{at}: tiled {tiled[t * rows + r]} vs {exact} (tol {tolerance:g3})");
                Assert.True(Math.Abs(tiled[t * rows + r] - perToken[t * rows + r]) <= 2 * tolerance,
                    $"{at}: tiled {tiled[t * rows + r]} vs per-token {perToken[t * rows + r]} (tol {2 * tolerance:g3})");
            }
        }
    }

    /// <summary>
    /// The fused gate/up kernel for a tile of tokens (<see cref="GateUpTiledKernel"/>): h = silu(g)·u with g, u the two
    /// products, against the double reference and the per-token <see cref="GateUpKernel"/>. Tolerance as in
    /// <see cref="GpuExpertTests"/>: g and u are each within ε = (K + 32)·2⁻²⁴·Σ|w·x|, so h is within
    /// 1.1·ε_g·|u| + |silu(g)|·ε_u (|silu'| ≤ 1.1) plus 2 ulps; the two kernels within twice that of each other.
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Gate_up_matches_the_reference_and_the_per_token_kernel(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        var random = new Random(606 + (int)type);
        using var kernels = new GpuMatMulKernels(_accelerator);
        foreach (var (rows, tokens) in new[] { (13, 9), (7, 2) })
        {
            int rowLength = 2 * Math.Max(info.BlockSize, 32);
            var shape = Packed(info, rows, rowLength, tokens);
            byte[] gateRaw = GpuMatMulTests.RandomWeights(info, rows, rowLength, random);
            byte[] upRaw = GpuMatMulTests.RandomWeights(info, rows, rowLength, random);
            float[] x = GpuMatMulTests.RandomFloats(random, tokens * rowLength);
            float[] gate = GpuMatMulTests.Dequantized(info, gateRaw, rows, rowLength), up = GpuMatMulTests.Dequantized(info, upRaw, rows, rowLength);
            float[] tiled = RunGateUp(kernels.GateUpTiledFor(type), gateRaw, upRaw, x, shape);
            float[] perToken = RunGateUp(kernels.GateUpPerTokenFor(type), gateRaw, upRaw, x, shape);
            for (int t = 0; t < tokens; t++)
            for (int r = 0; r < rows; r++)
            {
                var (g, gMagnitude) = GpuExpertTests.Dot(gate, r * rowLength, x, t * rowLength, rowLength);
                var (u, uMagnitude) = GpuExpertTests.Dot(up, r * rowLength, x, t * rowLength, rowLength);
                double silu = g / (1 + Math.Exp(-g)), exact = silu * u, unit = (rowLength + 32) * Math.Pow(2, -24);
                double tolerance = 1.1 * unit * gMagnitude * Math.Abs(u) + Math.Abs(silu) * unit * uMagnitude + 2 * Math.Pow(2, -24) * Math.Abs(exact) + 1e-6;
                string at = $"{info.Name} rows={rows} tokens={tokens} [t={t}, r={r}]";
                Assert.True(Math.Abs(tiled[t * rows + r] - exact) <= tolerance, $"{at}: tiled {tiled[t * rows + r]} vs {exact} (tol {tolerance:g3})");
                Assert.True(Math.Abs(tiled[t * rows + r] - perToken[t * rows + r]) <= 2 * tolerance,
                    $"{at}: tiled {tiled[t * rows + r]} vs per-token {perToken[t * rows + r]} (tol {2 * tolerance:g3})");
            }
        }
    }

    /// <summary>
    /// Strided inputs and outputs, as the MLA block uses them (one head's slice of a wider row): token t's x starts at
    /// t·XStride, its y at t·YStride. Each y value is checked against the reference (tolerance above) and every float
    /// between the outputs must keep its sentinel: the kernel writes its rows and nothing else.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.F16)]
    public void Strided_inputs_and_outputs(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        var random = new Random(77);
        using var kernels = new GpuMatMulKernels(_accelerator);
        const int rows = 11, tokens = 10, rowGap = 5, xGap = 7;
        int rowLength = 2 * Math.Max(info.BlockSize, 32);
        var shape = Packed(info, rows, rowLength, tokens);
        shape.XStride = rowLength + xGap;
        shape.YStride = rows + rowGap;
        var product = new Product(info, rows, rowLength, random, xLength: tokens * shape.XStride, yLength: tokens * shape.YStride);
        foreach (var launch in new[] { kernels.TiledFor(type), kernels.PerTokenFor(type) })
        {
            float[] y = product.Run(launch, _accelerator, shape);
            for (int t = 0; t < tokens; t++)
            for (int i = 0; i < shape.YStride; i++)
            {
                float value = y[t * shape.YStride + i];
                if (i >= rows)
                {
                    Assert.True(float.IsNaN(value), $"{info.Name} [t={t}] wrote {value} at {i}, past its {rows} rows");
                    continue;
                }
                var (exact, tolerance) = product.Reference(t * shape.XStride, i);
                Assert.True(Math.Abs(value - exact) <= tolerance, $"{info.Name} [t={t}, r={i}]: {value} vs {exact} (tol {tolerance:g3})");
            }
        }
    }

    /// <summary>
    /// Each format's padded x chunk fits the shared memory the tiled kernel reserves per token, and a chunk holds whole
    /// blocks; a format with a part size the padding bound does not cover would overrun the next token's chunk.
    /// </summary>
    [Fact]
    public void Every_format_fits_the_shared_x_tile()
    {
        foreach (var type in GpuDevice.SupportedTypes)
        {
            var info = QuantTypes.Get(type);
            var format = typeof(IGpuBlockFormat).Assembly.GetTypes()
                .Single(t => t.IsValueType && typeof(IGpuBlockFormat).IsAssignableFrom(t) && t.Name == type + "Gpu");
            int parts = ((IGpuBlockFormat)Activator.CreateInstance(format)!).Parts;
            Assert.Equal(0, QuantMatMulTiledKernel.ChunkValues % info.BlockSize);
            Assert.True(QuantMatMulTiledKernel.TokenStride(info.BlockSize / parts) <= QuantMatMulTiledKernel.TokenFloats,
                $"{info.Name}: parts of {info.BlockSize / parts} values need {QuantMatMulTiledKernel.TokenStride(info.BlockSize / parts)} floats per token");
        }
    }

    private float[] RunGateUp(GpuMatMulKernels.GateUpLaunch launch, byte[] gateRaw, byte[] upRaw, float[] x, MatShape shape)
    {
        using var gate = _accelerator.Allocate1D(gateRaw);
        using var up = _accelerator.Allocate1D(upRaw);
        using var gx = _accelerator.Allocate1D(x);
        float[] h = new float[shape.Tokens * shape.Rows];
        Array.Fill(h, float.NaN);
        using var gh = _accelerator.Allocate1D(h);
        launch(gate.View, up.View, gx.View, gh.View, shape);
        _accelerator.Synchronize();
        gh.CopyToCPU(h);
        return h;
    }

    private static MatShape Packed(QuantTypeInfo info, int rows, int rowLength, int tokens) => new()
    {
        Rows = rows, RowLength = rowLength, BlocksPerRow = rowLength / info.BlockSize, BlockSize = info.BlockSize,
        Tokens = tokens, XStride = rowLength, YStride = rows,
    };

    /// <summary>Random quantized weights, their dequantized values and random activations of one test case.</summary>
    private sealed class Product(QuantTypeInfo info, int rows, int rowLength, Random random, int xLength, int yLength)
    {
        private readonly byte[] _raw = GpuMatMulTests.RandomWeights(info, rows, rowLength, random);
        private readonly float[] _x = GpuMatMulTests.RandomFloats(random, xLength);
        private float[]? _weights;

        /// <summary>Launches <paramref name="launch"/> on fresh device buffers; y starts as NaN so unwritten values show.</summary>
        public float[] Run(GpuMatMulKernels.Launch launch, Accelerator accelerator, MatShape shape)
        {
            using var w = accelerator.Allocate1D(_raw);
            using var x = accelerator.Allocate1D(_x);
            float[] y = new float[yLength];
            Array.Fill(y, float.NaN);
            using var gy = accelerator.Allocate1D(y);
            launch(w.View, x.View, gy.View, shape);
            accelerator.Synchronize();
            gy.CopyToCPU(y);
            return y;
        }

        /// <summary>Row <paramref name="row"/> of the dequantized weights · x[xStart ..] in double, with the tolerance.</summary>
        public (double Exact, double Tolerance) Reference(int xStart, int row)
        {
            _weights ??= GpuMatMulTests.Dequantized(info, _raw, rows, rowLength);
            var (exact, magnitude) = GpuExpertTests.Dot(_weights, row * rowLength, _x, xStart, rowLength);
            return (exact, (rowLength + 32) * Math.Pow(2, -24) * magnitude + 1e-6);
        }
    }
}
