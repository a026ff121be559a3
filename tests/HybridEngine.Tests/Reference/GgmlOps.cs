using System.Runtime.InteropServices;

namespace HybridEngine.Tests.Reference;

/// <summary>
/// One-op ggml graphs run by ggml's own CPU backend (libggml-base + libggml-cpu from LLamaSharp.Backend.Cpu):
/// the oracle for the row kernels (rms_norm, rope_ext, soft_max_ext, silu). Test-only.
/// </summary>
internal static unsafe class GgmlOps
{
    private const int TypeF32 = 0;
    private const int TypeI32 = 26;

    [StructLayout(LayoutKind.Sequential)]
    private struct InitParams
    {
        public nuint MemSize;
        public void* MemBuffer;
        public byte NoAlloc; // C bool
    }

    private sealed class Api
    {
        public required delegate* unmanaged<InitParams, nint> Init;
        public required delegate* unmanaged<nint, void> Free;
        public required delegate* unmanaged<nint, int, long, long, long, nint> NewTensor3d;
        public required delegate* unmanaged<nint, int, long, nint> NewTensor1d;
        public required delegate* unmanaged<nint, void*> GetData;
        public required delegate* unmanaged<nint, nint> NewGraph;
        public required delegate* unmanaged<nint, nint, void> BuildForwardExpand;
        public required delegate* unmanaged<nint, nint, int, int> GraphComputeWithCtx;
        public required delegate* unmanaged<nint, nint, float, nint> RmsNorm;
        public required delegate* unmanaged<nint, nint, nint, nint, int, int, int, float, float, float, float, float, float, nint> RopeExt;
        public required delegate* unmanaged<nint, nint, nint, float, float, nint> SoftMaxExt;
        public required delegate* unmanaged<nint, nint, nint> Silu;
        public required delegate* unmanaged<int, int, float, float, float, float*, void> RopeYarnCorrDims;
    }

    private static readonly Lazy<Api> Functions = new(Load);

    private static Api Load()
    {
        // The avx2 build, as GgmlReference uses; libggml-cpu finds the already loaded libggml-base by its soname.
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");
        nint baseLib = NativeLibrary.Load(Path.Combine(dir, "libggml-base.so"));
        nint cpuLib = NativeLibrary.Load(Path.Combine(dir, "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(cpuLib, "ggml_cpu_init"))();
        nint B(string name) => NativeLibrary.GetExport(baseLib, name);
        return new Api
        {
            Init = (delegate* unmanaged<InitParams, nint>)B("ggml_init"),
            Free = (delegate* unmanaged<nint, void>)B("ggml_free"),
            NewTensor3d = (delegate* unmanaged<nint, int, long, long, long, nint>)B("ggml_new_tensor_3d"),
            NewTensor1d = (delegate* unmanaged<nint, int, long, nint>)B("ggml_new_tensor_1d"),
            GetData = (delegate* unmanaged<nint, void*>)B("ggml_get_data"),
            NewGraph = (delegate* unmanaged<nint, nint>)B("ggml_new_graph"),
            BuildForwardExpand = (delegate* unmanaged<nint, nint, void>)B("ggml_build_forward_expand"),
            GraphComputeWithCtx = (delegate* unmanaged<nint, nint, int, int>)NativeLibrary.GetExport(cpuLib, "ggml_graph_compute_with_ctx"),
            RmsNorm = (delegate* unmanaged<nint, nint, float, nint>)B("ggml_rms_norm"),
            RopeExt = (delegate* unmanaged<nint, nint, nint, nint, int, int, int, float, float, float, float, float, float, nint>)B("ggml_rope_ext"),
            SoftMaxExt = (delegate* unmanaged<nint, nint, nint, float, float, nint>)B("ggml_soft_max_ext"),
            Silu = (delegate* unmanaged<nint, nint, nint>)B("ggml_silu"),
            RopeYarnCorrDims = (delegate* unmanaged<int, int, float, float, float, float*, void>)B("ggml_rope_yarn_corr_dims"),
        };
    }

    /// <summary>ggml_rms_norm over rows of <paramref name="rowLength"/> (no weight).</summary>
    public static float[] RmsNorm(float[] x, int rowLength, float eps) =>
        Run(x, rowLength, x.Length / rowLength, 1, null, (api, ctx, a, _) => api.RmsNorm(ctx, a, eps));

    /// <summary>ggml_soft_max_ext (no mask, no ALiBi) over rows of <paramref name="rowLength"/>.</summary>
    public static float[] SoftMax(float[] x, int rowLength, float scale) =>
        Run(x, rowLength, x.Length / rowLength, 1, null, (api, ctx, a, _) => api.SoftMaxExt(ctx, a, 0, scale, 0f));

    public static float[] Silu(float[] x) => Run(x, x.Length, 1, 1, null, (api, ctx, a, _) => api.Silu(ctx, a));

    /// <summary>ggml_rope_ext on x = [tokens][heads][headDim], token t at positions[t], rotating the first nDims of each head.</summary>
    public static float[] RopeExt(float[] x, int headDim, int heads, int[] positions, int nDims, int mode, int nCtxOrig,
        float freqBase, float freqScale, float extFactor, float attnFactor, float betaFast, float betaSlow) =>
        Run(x, headDim, heads, positions.Length, positions, (api, ctx, a, pos) =>
            api.RopeExt(ctx, a, pos, 0, nDims, mode, nCtxOrig, freqBase, freqScale, extFactor, attnFactor, betaFast, betaSlow));

    public static (float Low, float High) RopeYarnCorrDims(int nDims, int nCtxOrig, float freqBase, float betaFast, float betaSlow)
    {
        float* dims = stackalloc float[2];
        Functions.Value.RopeYarnCorrDims(nDims, nCtxOrig, freqBase, betaFast, betaSlow, dims);
        return (dims[0], dims[1]);
    }

    private static float[] Run(float[] x, long ne0, long ne1, long ne2, int[]? positions, Func<Api, nint, nint, nint, nint> build)
    {
        Api api = Functions.Value;
        nint ctx = api.Init(new InitParams { MemSize = (nuint)(x.Length * 8L + (64 << 20)), MemBuffer = null, NoAlloc = 0 });
        if (ctx == 0) throw new InvalidOperationException("ggml_init failed");
        try
        {
            nint a = api.NewTensor3d(ctx, TypeF32, ne0, ne1, ne2);
            x.AsSpan().CopyTo(new Span<float>(api.GetData(a), x.Length));
            nint pos = 0;
            if (positions != null)
            {
                pos = api.NewTensor1d(ctx, TypeI32, positions.Length);
                positions.AsSpan().CopyTo(new Span<int>(api.GetData(pos), positions.Length));
            }
            nint result = build(api, ctx, a, pos);
            nint graph = api.NewGraph(ctx);
            api.BuildForwardExpand(graph, result);
            int status = api.GraphComputeWithCtx(ctx, graph, 1);
            if (status != 0) throw new InvalidOperationException($"ggml_graph_compute_with_ctx returned {status}");
            return new Span<float>(api.GetData(result), x.Length).ToArray();
        }
        finally
        {
            api.Free(ctx);
        }
    }
}
