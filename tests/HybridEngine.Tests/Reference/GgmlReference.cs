using System.Runtime.InteropServices;

namespace HybridEngine.Tests.Reference;

/// <summary>
/// ggml's own C quantize/dequantize functions from the library that LLamaSharp.Backend.Cpu ships (SPEC 8):
/// the bit-exact reference for every quant format. Test-only.
/// </summary>
internal static unsafe class GgmlReference
{
    private static readonly Lazy<nint> Library = new(Load);

    private static nint Load()
    {
        string baseDir = AppContext.BaseDirectory;
        // The avx2 build runs on every x86-64 machine this project targets; the reference functions are plain C either way.
        // LLamaSharp.Backend.Cpu 0.30.0 ships the same libggml-base.so in every variant folder (baseline x86-64, no FMA instructions),
        // so the quantizers' float results do not depend on which folder is loaded.
        string[] candidates =
        [
            Path.Combine(baseDir, "runtimes", "linux-x64", "native", "avx2", "libggml-base.so"),
            Path.Combine(baseDir, "runtimes", "linux-x64", "native", "noavx", "libggml-base.so"),
        ];
        foreach (string path in candidates)
        {
            if (File.Exists(path)) return NativeLibrary.Load(path);
        }
        throw new FileNotFoundException("libggml-base.so from LLamaSharp.Backend.Cpu was not found beside the test assembly", candidates[0]);
    }

    private static T Fn<T>(string name) where T : Delegate =>
        Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(Library.Value, name));

    private delegate void RowFn(void* src, void* dst, long k);
    private delegate nuint QuantizeChunkFn(int type, float* src, void* dst, long start, long nrows, long nPerRow, float* imatrix);
    private delegate void InitFn(int type);
    private delegate nuint TypeSizeFn(int type);
    private delegate long BlockSizeFn(int type);
    private delegate nuint RowSizeFn(int type, long elements);

    /// <summary>ggml's <c>dequantize_row_&lt;name&gt;</c>: <paramref name="blocks"/> to <paramref name="count"/> floats.</summary>
    public static float[] DequantizeRow(string name, ReadOnlySpan<byte> blocks, int count)
    {
        var output = new float[count];
        var fn = Fn<RowFn>($"dequantize_row_{name}");
        fixed (byte* src = blocks)
        fixed (float* dst = output)
        {
            fn(src, dst, count);
        }
        return output;
    }

    /// <summary>ggml's <c>quantize_row_&lt;name&gt;_ref</c>.</summary>
    public static byte[] QuantizeRowRef(string name, ReadOnlySpan<float> input, int bytes)
    {
        var output = new byte[bytes];
        var fn = Fn<RowFn>($"quantize_row_{name}_ref");
        fixed (float* src = input)
        fixed (byte* dst = output)
        {
            fn(src, dst, input.Length);
        }
        return output;
    }

    /// <summary>ggml_quantize_chunk, the quantizer llama.cpp's file quantizer calls (no importance matrix).</summary>
    public static byte[] QuantizeChunk(int type, ReadOnlySpan<float> input, int rows, int perRow, int bytes)
    {
        Fn<InitFn>("ggml_quantize_init")(type);
        var output = new byte[bytes];
        var fn = Fn<QuantizeChunkFn>("ggml_quantize_chunk");
        fixed (float* src = input)
        fixed (byte* dst = output)
        {
            fn(type, src, dst, 0, rows, perRow, null);
        }
        return output;
    }

    /// <summary>ggml_type_size: bytes of one block of <paramref name="type"/>.</summary>
    public static long TypeSize(int type) => (long)Fn<TypeSizeFn>("ggml_type_size")(type);

    /// <summary>ggml_blck_size: values in one block of <paramref name="type"/>.</summary>
    public static long BlockSize(int type) => Fn<BlockSizeFn>("ggml_blck_size")(type);

    /// <summary>ggml_row_size: bytes of a row of <paramref name="elements"/> values.</summary>
    public static long RowSize(int type, long elements) => (long)Fn<RowSizeFn>("ggml_row_size")(type, elements);

    private static readonly Lazy<nint> CpuLibrary = new(() =>
    {
        _ = Library.Value; // libggml-cpu links against libggml-base, which must be loaded first
        // The folder LLamaSharp itself would pick, so a later llama load finds the same library already mapped.
        // The AVX, AVX2 and AVX-512 builds quantize activations identically.
        string variant = System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512"
            : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2" : "avx";
        string path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", variant, "libggml-cpu.so");
        return NativeLibrary.Load(path);
    });

    /// <summary>
    /// ggml-cpu's <c>quantize_row_&lt;name&gt;</c> from the best x86 SIMD build this CPU runs (the activation
    /// quantizer llama.cpp uses on x86). Callers must check <c>Avx.IsSupported</c> first.
    /// </summary>
    public static byte[] QuantizeRowCpu(string name, ReadOnlySpan<float> input, int bytes)
    {
        var output = new byte[bytes];
        var fn = Marshal.GetDelegateForFunctionPointer<RowFn>(NativeLibrary.GetExport(CpuLibrary.Value, $"quantize_row_{name}"));
        fixed (float* src = input)
        fixed (byte* dst = output)
        {
            fn(src, dst, input.Length);
        }
        return output;
    }
}
