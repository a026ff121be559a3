using System.Runtime.InteropServices;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>
/// A one-op ggml graph, <c>ggml_mul_mat(W, X)</c>, run by ggml's own CPU backend (the avx2 build shipped by
/// LLamaSharp.Backend.Cpu): llama.cpp's matmul numerics end to end — activations quantized by ggml-cpu, its SIMD dot
/// products (or its tiled sgemm). Test-only.
/// </summary>
internal static unsafe class GgmlMulMatReference
{
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
        public required delegate* unmanaged<nint, int, long, long, nint> NewTensor2d;
        public required delegate* unmanaged<nint, void*> GetData;
        public required delegate* unmanaged<nint, nint> NewGraph;
        public required delegate* unmanaged<nint, nint, void> BuildForwardExpand;
        public required delegate* unmanaged<nint, nint, int, int> GraphComputeWithCtx;
        public required delegate* unmanaged<nint, nint, nint, nint> MulMat;
    }

    private static readonly Lazy<Api> Functions = new(() =>
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");
        nint baseLib = NativeLibrary.Load(Path.Combine(dir, "libggml-base.so"));
        nint cpuLib = NativeLibrary.Load(Path.Combine(dir, "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(cpuLib, "ggml_cpu_init"))();
        return new Api
        {
            Init = (delegate* unmanaged<InitParams, nint>)NativeLibrary.GetExport(baseLib, "ggml_init"),
            Free = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(baseLib, "ggml_free"),
            NewTensor2d = (delegate* unmanaged<nint, int, long, long, nint>)NativeLibrary.GetExport(baseLib, "ggml_new_tensor_2d"),
            GetData = (delegate* unmanaged<nint, void*>)NativeLibrary.GetExport(baseLib, "ggml_get_data"),
            NewGraph = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(baseLib, "ggml_new_graph"),
            BuildForwardExpand = (delegate* unmanaged<nint, nint, void>)NativeLibrary.GetExport(baseLib, "ggml_build_forward_expand"),
            GraphComputeWithCtx = (delegate* unmanaged<nint, nint, int, int>)NativeLibrary.GetExport(cpuLib, "ggml_graph_compute_with_ctx"),
            MulMat = (delegate* unmanaged<nint, nint, nint, nint>)NativeLibrary.GetExport(baseLib, "ggml_mul_mat"),
        };
    });

    /// <summary>
    /// y[t][r] = Σ_k W[r][k]·x[t][k] with W given as raw blocks of ggml type <paramref name="type"/> ([rows, rowLength])
    /// and x as float32 ([tokens, rowLength]); returns [tokens, rows].
    /// </summary>
    public static float[] MulMat(int type, byte[] weights, int rows, int rowLength, float[] x, int tokens)
    {
        Api api = Functions.Value;
        nint ctx = api.Init(new InitParams { MemSize = (nuint)(weights.Length + 8L * x.Length + 8L * rows * tokens + (16 << 20)) });
        if (ctx == 0) throw new InvalidOperationException("ggml_init failed");
        try
        {
            nint w = api.NewTensor2d(ctx, type, rowLength, rows);
            weights.AsSpan().CopyTo(new Span<byte>(api.GetData(w), weights.Length));
            nint a = api.NewTensor2d(ctx, 0, rowLength, tokens);
            x.AsSpan().CopyTo(new Span<float>(api.GetData(a), x.Length));
            nint y = api.MulMat(ctx, w, a);   // ne0 = rows, ne1 = tokens
            nint graph = api.NewGraph(ctx);
            api.BuildForwardExpand(graph, y);
            int status = api.GraphComputeWithCtx(ctx, graph, 1);
            if (status != 0) throw new InvalidOperationException($"ggml_graph_compute_with_ctx returned {status}");
            return new Span<float>(api.GetData(y), rows * tokens).ToArray();
        }
        finally
        {
            api.Free(ctx);
        }
    }
}
