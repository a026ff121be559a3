using HybridEngine.Gpu.Kernels;
using HybridEngine.Gpu.Kernels.Formats;
using HybridEngine.Quantization;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>
/// The weight types the GPU matrix kernel supports and, per type, the kernels specialised for it (compiled on first
/// use). Tables the formats need (the IQ4 value table) are uploaded once per accelerator. A product of one token
/// (decode) runs <see cref="QuantMatMulKernel"/>; one of <see cref="MinTiledTokens"/> or more (prefill, expert token
/// groups) runs <see cref="QuantMatMulTiledKernel"/>, which decodes each weight once per tile of tokens.
/// </summary>
internal sealed class GpuMatMulKernels(Accelerator accelerator) : IDisposable
{
    /// <summary>Launches the matrix product for one weight type (the kernel and its launch shape follow from <paramref name="shape"/>).</summary>
    public delegate void Launch(ArrayView<byte> w, ArrayView<float> x, ArrayView<float> y, MatShape shape);

    public static readonly IReadOnlyList<GgmlType> SupportedTypes =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q2_K, GgmlType.Q3_K,
        GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.IQ1_S, GgmlType.IQ2_XXS,
    ];

    /// <summary>Launches the fused gate/up product: h = silu(gate·x) ⊙ (up·x), both matrices of one type.</summary>
    public delegate void GateUpLaunch(ArrayView<byte> gate, ArrayView<byte> up, ArrayView<float> x, ArrayView<float> h, MatShape shape);

    /// <summary>Tokens from which a product runs the tiled kernel (below, the tile's unused sums would cost more than they save).</summary>
    public const int MinTiledTokens = 2;

    private readonly Dictionary<GgmlType, Launch> _loaded = [], _perToken = [], _tiled = [];
    private readonly Dictionary<GgmlType, GateUpLaunch> _gateUp = [], _gateUpPerToken = [], _gateUpTiled = [];
    private MemoryBuffer1D<int, Stride1D.Dense>? _iq4Values;
    private MemoryBuffer1D<ulong, Stride1D.Dense>? _iq1sGrid, _iq2xxsGrid;
    private MemoryBuffer1D<byte, Stride1D.Dense>? _ksigns;

    public static bool IsSupported(GgmlType type) => SupportedTypes.Contains(type);

    public static NotSupportedException Unsupported(GgmlType type) => new(
        $"No GPU matrix kernel for {QuantTypes.Get(type).Name}; supported: {string.Join(", ", SupportedTypes.Select(t => QuantTypes.Get(t).Name))}.");

    /// <summary>Kernels launched through this table so far.</summary>
    public long Launches { get; private set; }

    /// <summary>
    /// The product for <paramref name="type"/>: per-token for one token, tiled for <see cref="MinTiledTokens"/> or more.
    /// </summary>
    public Launch For(GgmlType type)
    {
        // Each kernel is compiled on its first launch: a decode-only run never compiles the tiled one.
        if (!_loaded.TryGetValue(type, out var launch))
        {
            Launch? perToken = null, tiled = null;   // looked up once, on the first launch of each
            _loaded[type] = launch = (w, x, y, shape) =>
            {
                Launches++;
                (shape.Tokens >= MinTiledTokens ? tiled ??= TiledFor(type) : perToken ??= PerTokenFor(type))(w, x, y, shape);
            };
        }
        return launch;
    }

    /// <summary><see cref="QuantMatMulKernel"/> whatever the token count.</summary>
    public Launch PerTokenFor(GgmlType type)
    {
        if (!_perToken.TryGetValue(type, out var launch)) _perToken[type] = launch = Dispatch<Launch, MatMulLoader>(type, new(accelerator, tiled: false));
        return launch;
    }

    /// <summary><see cref="QuantMatMulTiledKernel"/> whatever the token count.</summary>
    public Launch TiledFor(GgmlType type)
    {
        if (!_tiled.TryGetValue(type, out var launch)) _tiled[type] = launch = Dispatch<Launch, MatMulLoader>(type, new(accelerator, tiled: true));
        return launch;
    }

    /// <summary>The fused gate/up product: <see cref="GateUpKernel"/> for one token, <see cref="GateUpTiledKernel"/> for more.</summary>
    public GateUpLaunch GateUpFor(GgmlType type)
    {
        if (!_gateUp.TryGetValue(type, out var launch))
        {
            GateUpLaunch? perToken = null, tiled = null;
            _gateUp[type] = launch = (gate, up, x, h, shape) =>
            {
                Launches++;
                (shape.Tokens >= MinTiledTokens ? tiled ??= GateUpTiledFor(type) : perToken ??= GateUpPerTokenFor(type))(gate, up, x, h, shape);
            };
        }
        return launch;
    }

    /// <summary><see cref="GateUpKernel"/> whatever the token count.</summary>
    public GateUpLaunch GateUpPerTokenFor(GgmlType type)
    {
        if (!_gateUpPerToken.TryGetValue(type, out var launch))
            _gateUpPerToken[type] = launch = Dispatch<GateUpLaunch, GateUpLoader>(type, new(accelerator, tiled: false));
        return launch;
    }

    /// <summary><see cref="GateUpTiledKernel"/> whatever the token count.</summary>
    public GateUpLaunch GateUpTiledFor(GgmlType type)
    {
        if (!_gateUpTiled.TryGetValue(type, out var launch))
            _gateUpTiled[type] = launch = Dispatch<GateUpLaunch, GateUpLoader>(type, new(accelerator, tiled: true));
        return launch;
    }

    /// <summary>Something built from one block format, specialised per format (so kernels stay value-type generic).</summary>
    private interface IFormatUser<out T>
    {
        T Use<TFormat>(TFormat format) where TFormat : struct, IGpuBlockFormat;
    }

    private T Dispatch<T, TUser>(GgmlType type, TUser user) where TUser : IFormatUser<T> => type switch
    {
        GgmlType.F32 => user.Use(default(F32Gpu)),
        GgmlType.F16 => user.Use(default(F16Gpu)),
        GgmlType.Q8_0 => user.Use(default(Q8_0Gpu)),
        GgmlType.Q4_0 => user.Use(default(Q4_0Gpu)),
        GgmlType.Q5_0 => user.Use(default(Q5_0Gpu)),
        GgmlType.Q2_K => user.Use(default(Q2_KGpu)),
        GgmlType.Q3_K => user.Use(default(Q3_KGpu)),
        GgmlType.Q4_K => user.Use(default(Q4_KGpu)),
        GgmlType.Q5_K => user.Use(default(Q5_KGpu)),
        GgmlType.Q6_K => user.Use(default(Q6_KGpu)),
        GgmlType.IQ4_NL => user.Use(new IQ4_NLGpu(Iq4Values())),
        GgmlType.IQ4_XS => user.Use(new IQ4_XSGpu(Iq4Values())),
        GgmlType.IQ1_S => user.Use(new IQ1_SGpu(Table(ref _iq1sGrid, IqTables.Iq1sGrid))),
        GgmlType.IQ2_XXS => user.Use(new IQ2_XXSGpu(Table(ref _iq2xxsGrid, IqTables.Iq2xxsGrid), Table(ref _ksigns, IqTables.KsignsIq2xs))),
        _ => throw Unsupported(type),
    };

    private readonly struct MatMulLoader(Accelerator accelerator, bool tiled) : IFormatUser<Launch>
    {
        public Launch Use<TFormat>(TFormat format) where TFormat : struct, IGpuBlockFormat
        {
            var kernel = accelerator.LoadStreamKernel<ArrayView<byte>, ArrayView<float>, ArrayView<float>, MatShape, TFormat>(
                tiled ? QuantMatMulTiledKernel.Run : QuantMatMulKernel.Run);
            int warp = accelerator.WarpSize;
            bool t = tiled;
            return (w, x, y, shape) => kernel(t ? QuantMatMulTiledKernel.Config(shape, warp) : QuantMatMulKernel.Config(shape, warp), w, x, y, shape, format);
        }
    }

    private readonly struct GateUpLoader(Accelerator accelerator, bool tiled) : IFormatUser<GateUpLaunch>
    {
        public GateUpLaunch Use<TFormat>(TFormat format) where TFormat : struct, IGpuBlockFormat
        {
            int warp = accelerator.WarpSize;
            if (tiled)
            {
                var tiledKernel = accelerator.LoadStreamKernel<ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, MatShape, TFormat>(
                    GateUpTiledKernel.Run);
                return (gate, up, x, h, shape) => tiledKernel(QuantMatMulTiledKernel.Config(shape, warp), gate, up, x, h, shape, format);
            }
            var kernel = accelerator.LoadStreamKernel<ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, MatShape, TFormat>(
                GateUpKernel.Run);
            return (gate, up, x, h, shape) => kernel(QuantMatMulKernel.Config(shape, warp), gate, up, x, h, shape, format);
        }
    }

    private ArrayView<int> Iq4Values()
    {
        if (_iq4Values is null)
        {
            var values = new int[16];
            for (int i = 0; i < 16; i++) values[i] = IqTables.KvaluesIq4nl[i];
            _iq4Values = accelerator.Allocate1D(values);
        }
        return _iq4Values.View;
    }

    private ArrayView<T> Table<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, ReadOnlySpan<T> values) where T : unmanaged
    {
        buffer ??= accelerator.Allocate1D(values.ToArray());
        return buffer.View;
    }

    public void Dispose()
    {
        _iq4Values?.Dispose();
        _iq1sGrid?.Dispose();
        _iq2xxsGrid?.Dispose();
        _ksigns?.Dispose();
    }
}
