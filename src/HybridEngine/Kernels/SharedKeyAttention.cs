using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using HybridEngine.Kernels.Dot;

namespace HybridEngine.Kernels;

/// <summary>
/// The two products of attention for four query heads that read the same key/value head (MLA's single latent head,
/// or a GQA group), on 512-bit vectors:
/// <code>
///   s_h[j] = q_h · k_j                     h = 0..3, j &lt; length        (<see cref="Scores"/>)
///   o_h    = Σ_{j&lt;length} p_h[j] · v_j       h = 0..3                     (<see cref="WeightedSum"/>)
/// </code>
/// Each key (or value) vector is loaded once for the four heads, so a pass does four FMAs per key load instead of
/// one: per head, the shared rows would otherwise stream from L2 once per head, and those loads, not the FMAs, set
/// the speed at MLA's 576-float rows. <see cref="CausalAttention"/>'s per-head loops are the reference twin (the
/// tests compare both against the formula in double). Sizes must be multiples of 16 floats.
/// </summary>
internal static unsafe class SharedKeyAttention
{
    /// <summary>
    /// <c>s[h·sStride + j] = q[h·qStride .. +dim) · keys[j·keyStride .. +dim)</c> for h &lt; 4, j &lt; length.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores(float* q, int qStride, float* keys, int keyStride, int dim, int length, float* s, int sStride)
    {
        float* q0 = q, q1 = q + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
        int j = 0;
        for (; j + 4 <= length; j += 4)
        {
            float* k0 = keys + (long)j * keyStride, k1 = k0 + keyStride, k2 = k1 + keyStride, k3 = k2 + keyStride;
            Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
            Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
            Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
            Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
            for (int i = 0; i < dim; i += 16)
            {
                var x0 = Vector512.Load(k0 + i);
                var x1 = Vector512.Load(k1 + i);
                var x2 = Vector512.Load(k2 + i);
                var x3 = Vector512.Load(k3 + i);
                var h = Vector512.Load(q0 + i);
                a00 = Vector512.FusedMultiplyAdd(h, x0, a00); a01 = Vector512.FusedMultiplyAdd(h, x1, a01);
                a02 = Vector512.FusedMultiplyAdd(h, x2, a02); a03 = Vector512.FusedMultiplyAdd(h, x3, a03);
                h = Vector512.Load(q1 + i);
                a10 = Vector512.FusedMultiplyAdd(h, x0, a10); a11 = Vector512.FusedMultiplyAdd(h, x1, a11);
                a12 = Vector512.FusedMultiplyAdd(h, x2, a12); a13 = Vector512.FusedMultiplyAdd(h, x3, a13);
                h = Vector512.Load(q2 + i);
                a20 = Vector512.FusedMultiplyAdd(h, x0, a20); a21 = Vector512.FusedMultiplyAdd(h, x1, a21);
                a22 = Vector512.FusedMultiplyAdd(h, x2, a22); a23 = Vector512.FusedMultiplyAdd(h, x3, a23);
                h = Vector512.Load(q3 + i);
                a30 = Vector512.FusedMultiplyAdd(h, x0, a30); a31 = Vector512.FusedMultiplyAdd(h, x1, a31);
                a32 = Vector512.FusedMultiplyAdd(h, x2, a32); a33 = Vector512.FusedMultiplyAdd(h, x3, a33);
            }
            SimdOps.Sum4(a00, a01, a02, a03).Store(s + j);
            SimdOps.Sum4(a10, a11, a12, a13).Store(s + sStride + j);
            SimdOps.Sum4(a20, a21, a22, a23).Store(s + 2 * sStride + j);
            SimdOps.Sum4(a30, a31, a32, a33).Store(s + 3 * sStride + j);
        }
        for (; j < length; j++)
        {
            float* k = keys + (long)j * keyStride;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < dim; i += 16)
            {
                var x = Vector512.Load(k + i);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(q0 + i), x, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(q1 + i), x, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(q2 + i), x, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(q3 + i), x, a3);
            }
            var sums = SimdOps.Sum4(a0, a1, a2, a3);
            s[j] = sums.GetElement(0);
            s[sStride + j] = sums.GetElement(1);
            s[2 * sStride + j] = sums.GetElement(2);
            s[3 * sStride + j] = sums.GetElement(3);
        }
    }

    /// <summary>
    /// <c>o[h·oStride + i] = Σ_{j&lt;length} p[h·pStride + j] · values[j·valueStride + i]</c> for h &lt; 4, i &lt; dim:
    /// 64 output floats of each of the four heads stay in registers while the value rows stream by once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum(float* p, int pStride, float* values, int valueStride, int dim, int length, float* o, int oStride)
    {
        float* p0 = p, p1 = p + pStride, p2 = p1 + pStride, p3 = p2 + pStride;
        int i = 0;
        for (; i + 64 <= dim; i += 64)
        {
            Vector512<float> o00 = default, o01 = default, o02 = default, o03 = default;
            Vector512<float> o10 = default, o11 = default, o12 = default, o13 = default;
            Vector512<float> o20 = default, o21 = default, o22 = default, o23 = default;
            Vector512<float> o30 = default, o31 = default, o32 = default, o33 = default;
            float* v = values + i;
            for (int j = 0; j < length; j++, v += valueStride)
            {
                var x0 = Vector512.Load(v);
                var x1 = Vector512.Load(v + 16);
                var x2 = Vector512.Load(v + 32);
                var x3 = Vector512.Load(v + 48);
                var w = Vector512.Create(p0[j]);
                o00 = Vector512.FusedMultiplyAdd(w, x0, o00); o01 = Vector512.FusedMultiplyAdd(w, x1, o01);
                o02 = Vector512.FusedMultiplyAdd(w, x2, o02); o03 = Vector512.FusedMultiplyAdd(w, x3, o03);
                w = Vector512.Create(p1[j]);
                o10 = Vector512.FusedMultiplyAdd(w, x0, o10); o11 = Vector512.FusedMultiplyAdd(w, x1, o11);
                o12 = Vector512.FusedMultiplyAdd(w, x2, o12); o13 = Vector512.FusedMultiplyAdd(w, x3, o13);
                w = Vector512.Create(p2[j]);
                o20 = Vector512.FusedMultiplyAdd(w, x0, o20); o21 = Vector512.FusedMultiplyAdd(w, x1, o21);
                o22 = Vector512.FusedMultiplyAdd(w, x2, o22); o23 = Vector512.FusedMultiplyAdd(w, x3, o23);
                w = Vector512.Create(p3[j]);
                o30 = Vector512.FusedMultiplyAdd(w, x0, o30); o31 = Vector512.FusedMultiplyAdd(w, x1, o31);
                o32 = Vector512.FusedMultiplyAdd(w, x2, o32); o33 = Vector512.FusedMultiplyAdd(w, x3, o33);
            }
            float* r = o + i;
            o00.Store(r); o01.Store(r + 16); o02.Store(r + 32); o03.Store(r + 48);
            r += oStride;
            o10.Store(r); o11.Store(r + 16); o12.Store(r + 32); o13.Store(r + 48);
            r += oStride;
            o20.Store(r); o21.Store(r + 16); o22.Store(r + 32); o23.Store(r + 48);
            r += oStride;
            o30.Store(r); o31.Store(r + 16); o32.Store(r + 32); o33.Store(r + 48);
        }
        for (; i < dim; i += 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            float* v = values + i;
            for (int j = 0; j < length; j++, v += valueStride)
            {
                var x = Vector512.Load(v);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[j]), x, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[j]), x, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[j]), x, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[j]), x, a3);
            }
            a0.Store(o + i);
            a1.Store(o + oStride + i);
            a2.Store(o + 2 * oStride + i);
            a3.Store(o + 3 * oStride + i);
        }
    }
}
