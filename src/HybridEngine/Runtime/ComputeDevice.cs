using HybridEngine.Kernels;

namespace HybridEngine.Runtime;

/// <summary>
/// Something that multiplies weights it holds by activations. The CPU is always one; accelerators join the list
/// when a plan places weights on them. An op runs on the device that holds its weights.
/// </summary>
public interface IComputeDevice
{
    string Name { get; }

    /// <summary><c>y[t] = W·x[t]</c> for <paramref name="tokens"/> rows; <paramref name="scratch"/> holds the quantized activations.</summary>
    void MatMul(in WeightMatrix w, ReadOnlySpan<float> x, int tokens, Span<float> y, Span<byte> scratch);
}

/// <summary>The CPU kernels over one persistent <see cref="ComputePool"/>: matrix-vector for one token, matrix-matrix for a batch.</summary>
public sealed class CpuDevice(ComputePool pool, SimdLevel level) : IComputeDevice
{
    public string Name => $"cpu ({Pool.Threads} threads, {Level})";

    public ComputePool Pool { get; } = pool;

    public SimdLevel Level { get; } = level;

    public void MatMul(in WeightMatrix w, ReadOnlySpan<float> x, int tokens, Span<float> y, Span<byte> scratch)
    {
        if (tokens == 1) MatVec.Run(w, x, y, scratch, Pool, Level);
        else Kernels.MatMul.Run(w, x, tokens, y, scratch, Pool, Level);
    }
}

/// <summary>The devices of one run: the CPU, always, and the accelerators (an empty list without a GPU).</summary>
public sealed record DeviceSet(CpuDevice Cpu, IReadOnlyList<IComputeDevice> Accelerators)
{
    public static DeviceSet CpuOnly(ComputePool pool, SimdLevel level) => new(new CpuDevice(pool, level), []);

    public IComputeDevice For(TensorLocation location) => location switch
    {
        TensorLocation.MappedFile => Cpu,
        _ => throw new ArgumentOutOfRangeException(nameof(location)),
    };
}
