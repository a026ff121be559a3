using HybridEngine.Gpu.Kernels;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace HybridEngine.Gpu;

/// <summary>
/// A GPU (or, for tests, ILGPU's CPU accelerator pretending to be one) running the kernels in <see cref="Kernels"/>.
/// Weights are uploaded once as raw blocks; activations are copied in and out per call through scratch buffers that
/// grow once and are reused, except inside the resident ops (GpuDevice.Resident.cs), which keep a block's
/// intermediates on the device. <see cref="Transfers"/> counts every host↔device copy of activations. Every failure
/// inside an op is rethrown as <see cref="ComputeDeviceException"/>.
/// </summary>
public sealed partial class GpuDevice : IResidentDevice
{
    private readonly Context _context;
    private readonly GpuMatMulKernels _matMul;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> _rmsNorm;
    private readonly Action<KernelConfig, ArrayView<float>, int, float> _softmax;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> _swiGlu;
    private readonly Action<Index2D, ArrayView<float>, ArrayView<float>, RopeShape> _rope;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, AttentionShape> _attention;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> _attentionMerge;
    private readonly Action<Index2D, ArrayView<float>, ArrayView<float>, CopyShape> _stridedCopy;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _scratch = new MemoryBuffer1D<float, Stride1D.Dense>[ScratchSlots];
    private float[] _angles = [];

    internal GpuDevice(Context context, Accelerator accelerator, DeviceKind kind)
    {
        _context = context;
        Accelerator = accelerator;
        Kind = kind;
        Name = IdOf(accelerator.AcceleratorType, accelerator.Name);
        _matMul = new GpuMatMulKernels(accelerator);
        _rmsNorm = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(RmsNormKernel.Run);
        _softmax = accelerator.LoadStreamKernel<ArrayView<float>, int, float>(SoftmaxKernel.Run);
        _swiGlu = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SwiGluKernel.Run);
        _rope = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, ArrayView<float>, RopeShape>(RopeKernel.Run);
        _attention = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, AttentionShape>(AttentionKernel.Run);
        _attentionMerge = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(AttentionMergeKernel.Run);
        _stridedCopy = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, ArrayView<float>, CopyShape>(StridedCopyKernel.Run);
        for (int i = 0; i < _scratch.Length; i++) _scratch[i] = accelerator.Allocate1D<float>(1);
    }

    internal Accelerator Accelerator { get; }

    public DeviceTransfers Transfers { get; } = new();

    /// <summary>A device's name: backend and the driver's name (<c>cuda:NVIDIA H200</c>); the hardware probe uses the same.</summary>
    internal static string IdOf(AcceleratorType type, string name) => $"{type.ToString().ToLowerInvariant()}:{name}";

    /// <summary>Test hook: makes the next op fail inside the guarded region, as a faulting kernel would.</summary>
    internal bool FailNextOp { get; set; }

    public string Name { get; }
    public DeviceKind Kind { get; }
    public long MemoryBytes => Accelerator.MemorySize;

    /// <summary>
    /// Theoretical memory bandwidth from the driver's memory clock (kHz, double data rate) and bus width (bits), or
    /// null where the backend does not report them (OpenCL, the CPU accelerator).
    /// </summary>
    public double? PeakBandwidthBytesPerSecond =>
        Accelerator is CudaAccelerator cuda && cuda.MemoryClockRate > 0 && cuda.MemoryBusWidth > 0
            ? 2.0 * cuda.MemoryClockRate * 1000.0 * cuda.MemoryBusWidth / 8.0
            : null;

    /// <summary>The weight types the GPU matrix kernel dequantizes in-kernel.</summary>
    public static IReadOnlyList<GgmlType> SupportedTypes => GpuMatMulKernels.SupportedTypes;

    public bool Supports(GgmlType type) => GpuMatMulKernels.IsSupported(type);

    public unsafe IDeviceWeights Upload(in WeightMatrix weights)
    {
        if (!Supports(weights.Type)) throw GpuMatMulKernels.Unsupported(weights.Type);
        var source = weights;
        return Guard("upload", () =>
        {
            var buffer = Accelerator.Allocate1D<byte>(Math.Max(1, source.TotalBytes));
            try
            {
                const int chunk = 1 << 30;   // spans are int-sized; large matrices go up in 1 GiB pieces
                for (long at = 0; at < source.TotalBytes; at += chunk)
                {
                    int length = (int)Math.Min(chunk, source.TotalBytes - at);
                    buffer.View.AsContiguous().SubView(at, length).CopyFromCPU(new ReadOnlySpan<byte>(source.Data + at, length));
                }
                return new GpuWeights(this, buffer, source.Type, source.Rows, source.RowLength);
            }
            catch
            {
                buffer.Dispose();
                throw;
            }
        });
    }

    public void MatMul(IDeviceWeights weights, ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        var w = Own(weights);
        long inLength = (long)tokens * w.RowLength, outLength = (long)tokens * w.Rows;
        CheckLength(x, inLength, nameof(x));
        CheckLength(y, outLength, nameof(y));
        try
        {
            Fault("matmul");
            var launch = _matMul.For(w.Type);
            var gx = In(0, x[..(int)inLength]);
            var gy = Scratch(1, outLength);
            if (w.Rows > 0 && tokens > 0)
                launch(w.Blocks.View, gx, gy, Shape(w, tokens));
            Out(gy, y[..(int)outLength]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "matmul", e); }
    }

    public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, int tokens, float eps)
    {
        int width = weight.Length;
        int length = tokens * width;
        CheckLength(x, length, nameof(x));
        CheckLength(y, length, nameof(y));
        try
        {
            Fault("rmsnorm");
            var gx = In(0, x[..length]);
            var gw = In(2, weight);
            var gy = Scratch(1, length);
            if (tokens > 0 && width > 0) _rmsNorm(new KernelConfig(tokens, Accelerator.WarpSize), gx, gw, gy, width, width, eps);
            Out(gy, y[..length]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "rmsnorm", e); }
    }

    public void Rope(Span<float> x, int tokens, int heads, int headStride, ReadOnlySpan<int> positions, RopeParameters parameters, int offset = 0)
    {
        int pairs = parameters.RotaryDims / 2;
        if (offset < 0 || offset + parameters.RotaryDims > headStride) throw new ArgumentException("the rotated slice does not fit in a head");
        int length = tokens * heads * headStride;
        CheckLength(x, length, nameof(x));
        if (positions.Length < tokens) throw new ArgumentException($"{positions.Length} positions for {tokens} tokens", nameof(positions));
        int angleCount = tokens * 2 * pairs;
        if (_angles.Length < angleCount) _angles = new float[angleCount];
        for (int t = 0; t < tokens; t++)
            parameters.ComputeRow(positions[t], _angles.AsSpan(t * 2 * pairs, pairs), _angles.AsSpan(t * 2 * pairs + pairs, pairs));
        bool norm = parameters.Mode == RopeMode.Norm;
        var shape = new RopeShape
        {
            Heads = heads, HeadStride = headStride, Offset = offset, Pairs = pairs,
            PairStep = norm ? 1 : pairs, PairStride = norm ? 2 : 1,
        };
        try
        {
            Fault("rope");
            var gx = In(0, x[..length]);
            var ga = In(1, _angles.AsSpan(0, angleCount));
            if (tokens > 0 && heads > 0 && pairs > 0) _rope(new Index2D(tokens * heads, pairs), gx, ga, shape);
            Out(gx, x[..length]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "rope", e); }
    }

    public void Softmax(Span<float> x, int rows, float scale)
    {
        int width = rows == 0 ? 0 : x.Length / rows;
        int length = rows * width;
        try
        {
            Fault("softmax");
            var gx = In(0, x[..length]);
            if (rows > 0 && width > 0) _softmax(new KernelConfig(rows, Accelerator.WarpSize), gx, width, scale);
            Out(gx, x[..length]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "softmax", e); }
    }

    public void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> h)
    {
        int n = gate.Length;
        if (up.Length < n || h.Length < n) throw new ArgumentException("gate, up and h must have the same length");
        try
        {
            Fault("swiglu");
            var gg = In(0, gate);
            var gu = In(2, up[..n]);
            var gh = Scratch(1, n);
            if (n > 0) _swiGlu(n, gg, gu, gh);
            Out(gh, h[..n]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "swiglu", e); }
    }

    public void Dispose()
    {
        _matMul.Dispose();
        foreach (var buffer in _scratch) buffer.Dispose();
        foreach (var buffer in _constants.Values) buffer.Dispose();
        _positions?.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }

    /// <summary>Copies host values into scratch slot <paramref name="slot"/> and returns the filled view.</summary>
    private ArrayView<float> In(int slot, ReadOnlySpan<float> values)
    {
        var view = Scratch(slot, values.Length);
        if (values.Length > 0)
        {
            view.CopyFromCPU(values);
            Transfers.AddToDevice((long)values.Length * sizeof(float));
        }
        return view;
    }

    /// <summary>Waits for the launched work and copies its result back.</summary>
    /// <remarks>
    /// Every kernel and copy goes to the default stream, and a copy into a host span waits for that stream (ILGPU
    /// synchronises it), so the copy itself is the wait: one host synchronisation per op, not two. A whole-context
    /// synchronisation is left only for an empty result, where nothing else would wait.
    /// </remarks>
    private void Out(ArrayView<float> view, Span<float> destination)
    {
        if (destination.Length == 0)
        {
            Accelerator.Synchronize();
            return;
        }
        view.CopyToCPU(destination);
        Transfers.AddToHost((long)destination.Length * sizeof(float));
    }

    private T Guard<T>(string operation, Func<T> body)
    {
        try
        {
            Fault(operation);
            return body();
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, operation, e); }
    }

    /// <summary>Entry check of every op, inside its guard: a lost accelerator or an injected fault fails the op.</summary>
    private void Fault(string operation)
    {
        ObjectDisposedException.ThrowIf(Accelerator.IsDisposed, Accelerator);
        if (!FailNextOp) return;
        FailNextOp = false;
        throw new InvalidOperationException($"injected fault in {operation}");
    }

    // Argument errors are the caller's bug and stay as they are; everything else means the device cannot be trusted.
    private static bool IsDeviceFailure(Exception e) => e is not (ArgumentException or NotSupportedException);

    /// <summary>Scratch buffer <paramref name="slot"/> as a view of exactly <paramref name="length"/> floats, grown if needed.</summary>
    private ArrayView<float> Scratch(int slot, long length)
    {
        if (_scratch[slot].Length < length)
        {
            // Work queued earlier (experts launched without waiting) may still read the old buffer.
            Accelerator.Synchronize();
            _scratch[slot].Dispose();
            _scratch[slot] = Accelerator.Allocate1D<float>(Math.Max(length, 2 * _scratch[slot].Length));
        }
        return _scratch[slot].View.SubView(0, Math.Max(length, 0));
    }

    private static void CheckLength(ReadOnlySpan<float> span, long need, string name)
    {
        if (span.Length < need) throw new ArgumentException($"expected at least {need} values, got {span.Length}", name);
    }
}
