using System.Runtime.InteropServices;

namespace HybridEngine.Tests.Kernels.Dot;

/// <summary>
/// ggml's own plain-C dot products, <c>ggml_vec_dot_&lt;w&gt;_&lt;a&gt;_generic(n, &amp;s, bs, w, bx, a, by, nrc)</c>, exported by
/// the libggml-cpu.so that LLamaSharp.Backend.Cpu ships beside libggml-base.so. Test-only.
/// </summary>
internal static unsafe class GgmlDotReference
{
    private static readonly Lazy<nint> Library = new(Load);

    private static nint Load()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");
        // libggml-cpu.so needs libggml-base.so, found through its $ORIGIN run path.
        nint handle = NativeLibrary.Load(Path.Combine(dir, "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(handle, "ggml_cpu_init"))();
        return handle;
    }

    /// <summary>ggml's generic dot of <paramref name="n"/> values: weight blocks · activation blocks.</summary>
    public static float Dot(string weightName, string activationName, int n, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations)
    {
        var fn = (delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)
            NativeLibrary.GetExport(Library.Value, $"ggml_vec_dot_{weightName}_{activationName}_generic");
        float s = 0;
        fixed (byte* w = weights)
        fixed (byte* a = activations)
        {
            fn(n, &s, 0, w, 0, a, 0, 1);
        }
        return s;
    }
}
