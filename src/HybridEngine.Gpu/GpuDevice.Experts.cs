using HybridEngine.Gpu.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace HybridEngine.Gpu;

/// <summary>The expert product: x goes up once, y comes back once; the hidden layer never leaves the device.</summary>
public sealed partial class GpuDevice
{
    public void ExpertProduct(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        var (g, u, d) = (Own(gate), Own(up), Own(down));
        ExpertShape.Check(gate, up, down, x.Length, tokens, y.Length);
        int inLength = tokens * g.RowLength, outLength = tokens * d.Rows;
        try
        {
            Fault("expert");
            var gx = In(0, x[..inLength]);
            var gy = Scratch(1, outLength);
            LaunchExpert(g, u, d, gx, tokens, gy, hiddenSlot: 3, upSlot: 2);
            Out(gy, y[..outLength]);
        }
        catch (Exception e) when (IsDeviceFailure(e)) { throw new ComputeDeviceException(Name, "expert", e); }
    }

    /// <summary>Queues <c>gy = down · (silu(gate·gx) ⊙ (up·gx))</c>; the hidden layer lives in two scratch slots.</summary>
    private void LaunchExpert(GpuWeights g, GpuWeights u, GpuWeights d, ArrayView<float> gx, int tokens, ArrayView<float> gy, int hiddenSlot, int upSlot)
    {
        if (tokens == 0) return;
        int ff = g.Rows;
        var gh = Scratch(hiddenSlot, (long)tokens * ff);
        if (g.Type == u.Type)
            _matMul.GateUpFor(g.Type)(g.Blocks.View, u.Blocks.View, gx, gh, Shape(g, tokens));
        else
        {
            // Gate and up of different types: two products and a SwiGLU pass, still without leaving the device.
            var gu = Scratch(upSlot, (long)tokens * ff);
            _matMul.For(g.Type)(g.Blocks.View, gx, gh, Shape(g, tokens));
            _matMul.For(u.Type)(u.Blocks.View, gx, gu, Shape(u, tokens));
            _swiGlu(tokens * ff, gh, gu, gh);
        }
        _matMul.For(d.Type)(d.Blocks.View, gh, gy, Shape(d, tokens));
    }

    private GpuWeights Own(IDeviceWeights weights) =>
        weights as GpuWeights is { } g && ReferenceEquals(g.Device, this)
            ? g : throw new ArgumentException("weights were uploaded to another device", nameof(weights));


    private static MatShape Shape(GpuWeights w, int tokens)
    {
        var info = QuantTypes.Get(w.Type);
        return new MatShape
        {
            Rows = w.Rows, RowLength = w.RowLength, BlockSize = info.BlockSize,
            BlocksPerRow = w.RowLength / info.BlockSize, Tokens = tokens, XStride = w.RowLength, YStride = w.Rows,
        };
    }
}
