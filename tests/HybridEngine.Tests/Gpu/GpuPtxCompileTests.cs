using System.Reflection;
using HybridEngine.Gpu.Kernels;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// ILGPU's CPU accelerator runs kernels as ordinary .NET code, so a construct the GPU compiler rejects would pass every
/// other test here. This compiles every kernel (every block format of the matrix kernels) with ILGPU's PTX backend,
/// which needs no GPU or driver: a kernel that cannot become CUDA code fails here, not on the first GPU machine.
/// </summary>
public sealed class GpuPtxCompileTests : IDisposable
{
    private readonly Context _context = Context.Create(builder => builder.Cuda().EnableAlgorithms());
    private readonly PTXBackend _backend;

    public GpuPtxCompileTests() =>
        _backend = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80,
            CudaInstructionSet.ISA_70, nvvmAPI: null);

    public static TheoryData<string> Formats() =>
        new(typeof(IGpuBlockFormat).Assembly.GetTypes().Where(IsFormat).Select(t => t.Name).Order());

    [Theory]
    [MemberData(nameof(Formats))]
    public void Matrix_kernels_compile_to_ptx_for_every_block_format(string format)
    {
        var type = typeof(IGpuBlockFormat).Assembly.GetTypes().Single(t => IsFormat(t) && t.Name == format);
        AssertCompiles(Run(typeof(QuantMatMulKernel)).MakeGenericMethod(type), explicitlyGrouped: true);
        AssertCompiles(Run(typeof(GateUpKernel)).MakeGenericMethod(type), explicitlyGrouped: true);
        AssertCompiles(Run(typeof(QuantMatMulTiledKernel)).MakeGenericMethod(type), explicitlyGrouped: true);
        AssertCompiles(Run(typeof(GateUpTiledKernel)).MakeGenericMethod(type), explicitlyGrouped: true);
    }

    /// <summary>
    /// The tiled kernels keep 2 rows × 8 tokens of sums per lane (twice that for gate/up) in <see cref="TileDot"/>'s
    /// fields. Were they spilled to an addressed array (a struct ILGPU could not break into registers), every product
    /// would go through local memory, which on a GPU is DRAM behind the L1 cache; the PTX would show <c>.local</c>.
    /// </summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void The_tiled_kernels_keep_their_sums_out_of_local_memory(string format)
    {
        var type = typeof(IGpuBlockFormat).Assembly.GetTypes().Single(t => IsFormat(t) && t.Name == format);
        foreach (var kernel in new[] { typeof(QuantMatMulTiledKernel), typeof(GateUpTiledKernel) })
        {
            var method = Run(kernel).MakeGenericMethod(type);
            var compiled = Assert.IsType<PTXCompiledKernel>(
                _backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), default(KernelSpecialization)));
            Assert.DoesNotContain(".local", compiled.PTXAssembly, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Float_and_attention_kernels_compile_to_ptx()
    {
        foreach (var kernel in new[] { typeof(RmsNormKernel), typeof(SoftmaxKernel), typeof(AttentionKernel), typeof(AttentionMergeKernel) })
            AssertCompiles(Run(kernel), explicitlyGrouped: true);
        foreach (var kernel in new[] { typeof(SwiGluKernel), typeof(RopeKernel), typeof(StridedCopyKernel) })
            AssertCompiles(Run(kernel), explicitlyGrouped: false);
    }

    /// <summary>
    /// IQ1_S's grid bytes are signed (−1, 0, 1). On an H200 the kernel once gave 268 for 2.7 because ILGPU compiled the
    /// C# <c>(sbyte)(byte)(ulong)</c> chain as an unsigned byte-to-float conversion (<c>cvt.rn.f32.u8</c>: −1 read as
    /// 255), while the CPU accelerator ran it right. The kernel now sign-extends with integer arithmetic; this checks the
    /// PTX keeps no unsigned byte-to-float conversion, the only place the miscompile showed.
    /// </summary>
    [Fact]
    public void Iq1s_grid_bytes_are_not_converted_as_unsigned_bytes()
    {
        var method = Run(typeof(QuantMatMulKernel)).MakeGenericMethod(typeof(HybridEngine.Gpu.Kernels.Formats.IQ1_SGpu));
        var compiled = Assert.IsType<PTXCompiledKernel>(
            _backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), default(KernelSpecialization)));
        Assert.DoesNotContain("cvt.rn.f32.u8", compiled.PTXAssembly, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _backend.Dispose();
        _context.Dispose();
    }

    private void AssertCompiles(MethodInfo method, bool explicitlyGrouped)
    {
        var entry = explicitlyGrouped
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
        var compiled = Assert.IsType<PTXCompiledKernel>(_backend.Compile(entry, default(KernelSpecialization)));
        Assert.Contains(".entry", compiled.PTXAssembly, StringComparison.Ordinal);
    }

    private static bool IsFormat(Type t) => t.IsValueType && typeof(IGpuBlockFormat).IsAssignableFrom(t);

    private static MethodInfo Run(Type kernel) => kernel.GetMethod("Run", BindingFlags.Public | BindingFlags.Static)!;
}
