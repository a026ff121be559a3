using ILGPU;

namespace HybridEngine.Gpu.Kernels;

/// <summary>Layout of one RoPE launch, passed by value.</summary>
public struct RopeShape
{
    public int Heads;
    public int HeadStride;
    public int Offset;
    public int Pairs;
    /// <summary>Distance between the two values of a pair: 1 for NORM (x[2i], x[2i+1]), Pairs for NEOX (x[i], x[i+n/2]).</summary>
    public int PairStep;
    /// <summary>Index step from pair i to pair i+1: 2 for NORM, 1 for NEOX.</summary>
    public int PairStride;
}

/// <summary>
/// Rotary embedding, in place: <c>(x0, x1) → (x0·cos_i − x1·sin_i, x0·sin_i + x1·cos_i)</c>. The angles (YaRN blend and
/// magnitude included) are computed on the host by <c>RopeParameters.ComputeRow</c> — the same function the CPU table
/// uses — and uploaded as angles[t] = [cos_0..cos_{P−1}, sin_0..sin_{P−1}], so GPU and CPU rotate by identical
/// numbers. CPU reference: <c>Kernels/Rope.Reference</c>. Launch: index = (token·heads + head, pair).
/// </summary>
public static class RopeKernel
{
    public static void Run(Index2D index, ArrayView<float> x, ArrayView<float> angles, RopeShape shape)
    {
        int tokenHead = index.X;
        int pair = index.Y;
        int token = tokenHead / shape.Heads;
        int head = tokenHead % shape.Heads;
        long at = (long)token * shape.Heads * shape.HeadStride + (long)head * shape.HeadStride + shape.Offset
                  + (long)pair * shape.PairStride;
        long angle = (long)token * 2 * shape.Pairs + pair;
        float c = angles[angle], s = angles[angle + shape.Pairs];
        float x0 = x[at], x1 = x[at + shape.PairStep];
        x[at] = x0 * c - x1 * s;
        x[at + shape.PairStep] = x0 * s + x1 * c;
    }
}
