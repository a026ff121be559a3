using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// The same calls through <see cref="IComputeDevice"/> on the CPU device and the (pretend) GPU give the scalar
/// references' results: callers can move an op between devices without changing anything but the device.
/// </summary>
public sealed class DeviceContractTests
{
    public static TheoryData<string> Devices() => ["cpu", "gpu"];

    private static IComputeDevice Open(string name) => name == "cpu" ? new CpuDevice() : GpuDevices.CreateCpuPretend();

    /// <summary>Float ops with the same formula on both sides: 2e-5 relative covers SIMD vs scalar vs device exp order.</summary>
    [Theory]
    [MemberData(nameof(Devices))]
    public void Softmax_rmsnorm_swiglu_and_rope_match_the_references(string name)
    {
        using var device = Open(name);
        var random = new Random(3);
        const int rows = 3, width = 19;
        float[] x = GpuMatMulTests.RandomFloats(random, rows * width);

        float[] softmax = (float[])x.Clone(), softmaxRef = new float[x.Length];
        device.Softmax(softmax, rows, 0.5f);
        for (int r = 0; r < rows; r++) Softmax.Reference(x.AsSpan(r * width, width), softmaxRef.AsSpan(r * width, width), 0.5f, width);
        Close(softmaxRef, softmax);

        float[] weight = GpuMatMulTests.RandomFloats(random, width), norm = new float[x.Length], normRef = new float[x.Length];
        device.RmsNorm(x, weight, norm, rows, 1e-6f);
        for (int r = 0; r < rows; r++) RmsNorm.Reference(x.AsSpan(r * width, width), weight, normRef.AsSpan(r * width, width), 1e-6f);
        Close(normRef, norm);

        float[] up = GpuMatMulTests.RandomFloats(random, x.Length), h = new float[x.Length], hRef = new float[x.Length];
        device.SwiGlu(x, up, h);
        for (int i = 0; i < x.Length; i++) hRef[i] = SwiGlu.Reference(x[i], up[i]);
        Close(hRef, h);

        var rope = RopeParameters.Yarn(8, RopeMode.Neox, 10000f, 4f, 2048);
        int[] positions = [5, 3000];
        float[] q = GpuMatMulTests.RandomFloats(random, 2 * 2 * 10), qRef = (float[])q.Clone();
        device.Rope(q, 2, 2, 10, positions, rope, offset: 2);
        for (int t = 0; t < 2; t++) Rope.Reference(qRef.AsSpan(t * 20, 20), 2, 10, positions[t], rope, 2);
        Close(qRef, q);
    }

    private static void Close(float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5f * Math.Abs(expected[i]) + 1e-6f, $"[{i}]: {actual[i]} vs {expected[i]}");
    }
}
