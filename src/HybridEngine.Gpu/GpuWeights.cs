using HybridEngine.Quantization;
using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>A weight matrix's raw GGUF blocks in device memory (never a float copy).</summary>
internal sealed class GpuWeights(GpuDevice device, MemoryBuffer1D<byte, Stride1D.Dense> blocks,
    GgmlType type, int rows, int rowLength) : IDeviceWeights
{
    public MemoryBuffer1D<byte, Stride1D.Dense> Blocks { get; } = blocks;
    public IComputeDevice Device => device;
    public GgmlType Type { get; } = type;
    public int Rows { get; } = rows;
    public int RowLength { get; } = rowLength;
    public long DeviceBytes => Blocks.LengthInBytes;
    public void Dispose() => Blocks.Dispose();
}
