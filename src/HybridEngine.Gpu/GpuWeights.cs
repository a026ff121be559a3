using HybridEngine.Quantization;
using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>
/// A weight matrix's raw GGUF blocks in device memory (never a float copy): a whole buffer of its own, or one head's
/// slab of a buffer that holds a 3-D tensor's heads back to back (<see cref="GpuDevice.UploadHeads"/>), which the
/// batched per-head products read in one launch.
/// </summary>
internal sealed class GpuWeights : IDeviceWeights
{
    private readonly SharedBlocks _buffer;
    private readonly long _offset;
    private bool _disposed;

    public GpuWeights(GpuDevice device, MemoryBuffer1D<byte, Stride1D.Dense> blocks, GgmlType type, int rows, int rowLength)
        : this(device, new SharedBlocks(blocks, 1), 0, blocks.LengthInBytes, type, rows, rowLength) { }

    private GpuWeights(GpuDevice device, SharedBlocks buffer, long offset, long bytes, GgmlType type, int rows, int rowLength)
    {
        Device = device;
        _buffer = buffer;
        _offset = offset;
        DeviceBytes = bytes;
        Type = type;
        Rows = rows;
        RowLength = rowLength;
    }

    /// <summary>
    /// <paramref name="heads"/> handles on consecutive slabs of <paramref name="blocks"/>, each [rows, rowLength] of
    /// <paramref name="slabBytes"/>; the buffer is freed when the last of them is disposed.
    /// </summary>
    public static IDeviceWeights[] Heads(GpuDevice device, MemoryBuffer1D<byte, Stride1D.Dense> blocks, int heads, long slabBytes,
        GgmlType type, int rows, int rowLength)
    {
        var shared = new SharedBlocks(blocks, heads);
        var result = new IDeviceWeights[heads];
        for (int h = 0; h < heads; h++) result[h] = new GpuWeights(device, shared, h * slabBytes, slabBytes, type, rows, rowLength);
        return result;
    }

    /// <summary>This matrix's bytes on the device.</summary>
    public GpuBlocks Blocks => new(_buffer.Buffer.View.SubView(_offset, DeviceBytes));

    public IComputeDevice Device { get; }
    public GgmlType Type { get; }
    public int Rows { get; }
    public int RowLength { get; }
    public long DeviceBytes { get; }

    /// <summary>
    /// Whether this is head <paramref name="head"/> of the stack that <paramref name="first"/> starts: the same
    /// buffer, the same shape, <paramref name="head"/> slabs further on.
    /// </summary>
    public bool Follows(GpuWeights first, int head) =>
        ReferenceEquals(_buffer, first._buffer) && _offset == first._offset + head * first.DeviceBytes
        && Type == first.Type && Rows == first.Rows && RowLength == first.RowLength;

    /// <summary>The stack's bytes from this matrix on, <paramref name="heads"/> slabs long (valid once <see cref="Follows"/> held for each).</summary>
    public GpuBlocks Stack(int heads) => new(_buffer.Buffer.View.SubView(_offset, heads * DeviceBytes));

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _buffer.Release();
    }

    /// <summary>A device buffer and the number of handles still using it.</summary>
    private sealed class SharedBlocks(MemoryBuffer1D<byte, Stride1D.Dense> buffer, int holders)
    {
        private int _holders = holders;

        public MemoryBuffer1D<byte, Stride1D.Dense> Buffer { get; } = buffer;

        public void Release()
        {
            if (--_holders == 0) Buffer.Dispose();
        }
    }
}

/// <summary>A range of raw weight blocks in device memory, as the matrix kernels take it.</summary>
internal readonly struct GpuBlocks(ArrayView<byte> view)
{
    public ArrayView<byte> View { get; } = view;
}
