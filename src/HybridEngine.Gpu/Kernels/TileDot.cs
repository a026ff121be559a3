using ILGPU;

namespace HybridEngine.Gpu.Kernels;

/// <summary>
/// Running dot products of one lane for a tile of <see cref="Tokens"/> tokens: <c>T_t += w · x_t[Start + j]</c> for each
/// decoded weight value w at offset j of the part the lane is on. The tokens' activations lie in shared memory
/// <see cref="Stride"/> floats apart, so one decoded weight feeds every token of the tile from registers (the sums are
/// eight fields, not an array: an array indexed by a variable would live in slow local memory on a GPU).
/// </summary>
public struct TileDot
{
    /// <summary>Tokens per tile; matches the eight sums below.</summary>
    public const int Tokens = 8;

    /// <summary>The activations (shared memory): token t's value j of the current part is at Start + j + t·Stride.</summary>
    public ArrayView<float> X;
    public long Start;
    public long Stride;
    public float T0, T1, T2, T3, T4, T5, T6, T7;

    public TileDot(ArrayView<float> x, long stride)
    {
        X = x;
        Stride = stride;
    }

    /// <summary>The same sums, reading the part that starts at <paramref name="start"/>.</summary>
    public readonly TileDot At(long start)
    {
        var moved = this;
        moved.Start = start;
        return moved;
    }

    /// <summary>Adds <c>w · x_t[j]</c> to every token's sum: one decoded weight, eight products.</summary>
    public void Add(int j, float w)
    {
        long at = Start + j;
        T0 += w * X[at];
        T1 += w * X[at + Stride];
        T2 += w * X[at + 2 * Stride];
        T3 += w * X[at + 3 * Stride];
        T4 += w * X[at + 4 * Stride];
        T5 += w * X[at + 5 * Stride];
        T6 += w * X[at + 6 * Stride];
        T7 += w * X[at + 7 * Stride];
    }

    /// <summary>Every sum added over the warp's lanes (lane 0 holds the totals, as in <see cref="WarpSum.Reduce"/>).</summary>
    public readonly TileDot Reduced()
    {
        var total = this;
        total.T0 = WarpSum.Reduce(T0);
        total.T1 = WarpSum.Reduce(T1);
        total.T2 = WarpSum.Reduce(T2);
        total.T3 = WarpSum.Reduce(T3);
        total.T4 = WarpSum.Reduce(T4);
        total.T5 = WarpSum.Reduce(T5);
        total.T6 = WarpSum.Reduce(T6);
        total.T7 = WarpSum.Reduce(T7);
        return total;
    }

    /// <summary>Token <paramref name="t"/>'s sum (0 ≤ t &lt; <see cref="Tokens"/>).</summary>
    public readonly float Sum(int t) => t switch
    {
        0 => T0,
        1 => T1,
        2 => T2,
        3 => T3,
        4 => T4,
        5 => T5,
        6 => T6,
        _ => T7,
    };
}
