using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>Discovery never throws; a failing GPU surfaces as the one exception type a caller catches to use the CPU.</summary>
public sealed unsafe class GpuDeviceTests
{
    [Fact]
    public void Discovery_never_throws_and_lists_only_real_gpus()
    {
        var found = GpuDevices.Discover();
        try
        {
            // Whatever this machine has, every listed device is a GPU driven by CUDA or OpenCL, never the CPU stand-in.
            Assert.All(found.Devices, d => Assert.NotEqual(DeviceKind.Cpu, d.Kind));
            Assert.All(found.Devices, d => Assert.DoesNotContain("cpu:", d.Name));
            if (Environment.GetEnvironmentVariable("HYBRID_GPU_TESTS") is not { Length: > 0 })
                Assert.Empty(found.Devices);   // CI and development machines without a GPU: an empty list, not an error
        }
        finally
        {
            foreach (var d in found.Devices) d.Dispose();
        }
    }

    [Fact]
    public void A_failing_driver_becomes_a_warning_not_an_exception()
    {
        var found = GpuDevices.Discover(false, _ => throw new DllNotFoundException("libcuda.so.1 missing"));
        Assert.Empty(found.Devices);
        Assert.Contains(found.Warnings, w => w.Contains("libcuda.so.1 missing", StringComparison.Ordinal));
    }

    [Fact]
    public void Discovery_adds_the_cpu_accelerator_only_when_asked()
    {
        var found = GpuDevices.Discover(includeCpuAccelerator: true);
        try
        {
            var pretend = Assert.Single(found.Devices, d => d.Name.StartsWith("cpu:", StringComparison.Ordinal));
            Assert.Equal(DeviceKind.DiscreteGpu, pretend.Kind);
            Assert.True(pretend.MemoryBytes > 0);
        }
        finally
        {
            foreach (var d in found.Devices) d.Dispose();
        }
    }

    [Fact]
    public void An_injected_kernel_fault_is_a_ComputeDeviceException_and_the_device_keeps_working()
    {
        using var gpu = GpuDevices.CreateCpuPretend();
        float[] gate = [1, 2, 3], up = [1, 1, 1], h = new float[3];
        gpu.FailNextOp = true;
        var e = Assert.Throws<ComputeDeviceException>(() => gpu.SwiGlu(gate, up, h));
        Assert.Equal("swiglu", e.Operation);
        Assert.IsType<InvalidOperationException>(e.InnerException);
        gpu.SwiGlu(gate, up, h);
        Assert.Equal(SwiGlu.Reference(3, 1), h[2], 5);
    }

    [Fact]
    public void A_lost_accelerator_fails_every_op_with_ComputeDeviceException_and_the_cpu_takes_over()
    {
        var random = new Random(5);
        var info = QuantTypes.Get(GgmlType.Q4_K);
        byte[] raw = GpuMatMulTests.RandomWeights(info, 3, 256, random);
        float[] x = GpuMatMulTests.RandomFloats(random, 256);
        float[] y = new float[3];
        using var gpu = GpuDevices.CreateCpuPretend();
        fixed (byte* p = raw)
        {
            var matrix = new WeightMatrix(p, GgmlType.Q4_K, 3, 256);
            var onGpu = gpu.Upload(matrix);
            gpu.Accelerator.Dispose();   // what a reset or removed device looks like to the engine
            Assert.Throws<ComputeDeviceException>(() => gpu.MatMul(onGpu, x, 1, y));
            Assert.Throws<ComputeDeviceException>(() => gpu.Softmax(x, 1, 1f));
            Assert.Throws<ComputeDeviceException>(() => gpu.Upload(matrix));

            // The caller's fallback: the same call on the CPU device gives the product.
            using IComputeDevice cpu = new CpuDevice();
            using var onCpu = cpu.Upload(matrix);
            cpu.MatVec(onCpu, x, y);
            float[] w = GpuMatMulTests.Dequantized(info, raw, 3, 256);
            double exact = 0, magnitude = 0;
            for (int k = 0; k < 256; k++) { exact += w[k] * x[k]; magnitude += Math.Abs(w[k] * x[k]); }
            Assert.True(Math.Abs(y[0] - exact) <= 0.01 * magnitude);   // Q8_K activation quantization on the CPU path
        }
    }

    [Fact]
    public void Cpu_device_is_the_always_present_device()
    {
        using var cpu = new CpuDevice();
        Assert.Equal(DeviceKind.Cpu, cpu.Kind);
        Assert.True(cpu.Supports(GgmlType.Q4_K));
        Assert.True(cpu.MemoryBytes > 0);
    }
}
