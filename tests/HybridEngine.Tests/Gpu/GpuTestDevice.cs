using HybridEngine.Gpu;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// One GPU device per test class: ILGPU's CPU accelerator by default (runs everywhere, CI included), the first CUDA
/// device when <c>HYBRID_GPU_TESTS=cuda</c> (tools/gpu-check.sh), where a missing GPU is a failure, not a skip.
/// </summary>
public sealed class GpuTestDevice : IDisposable
{
    public GpuTestDevice()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("HYBRID_GPU_TESTS"), "cuda", StringComparison.OrdinalIgnoreCase))
            Device = GpuDevices.OpenFirstCuda(out string? reason) ?? throw new InvalidOperationException($"HYBRID_GPU_TESTS=cuda but {reason}");
        else
            Device = GpuDevices.CreateCpuPretend();
    }

    public GpuDevice Device { get; }

    public void Dispose() => Device.Dispose();
}
