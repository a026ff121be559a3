namespace HybridEngine.Kernels;

/// <summary>
/// The cos/sin of every rotated pair for positions 0..Positions−1, built once per context so that applying RoPE
/// per token computes no trigonometry and allocates nothing.
/// </summary>
/// <remarks>
/// Each position owns a row laid out for its mode's vector path:
/// <list type="bullet">
/// <item>Norm: <c>[c0 c0 c1 c1 … | −s0 +s0 −s1 +s1 …]</c> (2·n_rot floats), so that
/// <c>y = x·cos + swapPairs(x)·sin</c> works on whole vectors.</item>
/// <item>Neox: <c>[c0 c1 … | s0 s1 …]</c> (n_rot floats), matching the contiguous halves it rotates.</item>
/// </list>
/// Size: Positions × 8·n_rot bytes for Norm (DeepSeek n_rot = 64: 2 MiB per 4096 positions).
/// </remarks>
public sealed class RopeTable
{
    private readonly float[] _rows;

    public RopeParameters Parameters { get; }
    public int Positions { get; }
    /// <summary>Floats per position: the cos block followed by the sin block.</summary>
    internal int RowLength { get; }

    public RopeTable(RopeParameters parameters, int positions)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        if (positions <= 0) throw new ArgumentOutOfRangeException(nameof(positions), "a RoPE table needs at least one position");
        Parameters = parameters;
        Positions = positions;
        int n = parameters.RotaryDims;
        int pairs = n / 2;
        RowLength = parameters.Mode == RopeMode.Norm ? 2 * n : n;
        _rows = new float[(long)RowLength * positions];
        var cos = new float[pairs];
        var sin = new float[pairs];
        for (int p = 0; p < positions; p++)
        {
            parameters.ComputeRow(p, cos, sin);
            Span<float> row = _rows.AsSpan(p * RowLength, RowLength);
            if (parameters.Mode == RopeMode.Norm)
            {
                for (int i = 0; i < pairs; i++)
                {
                    row[2 * i] = cos[i];
                    row[2 * i + 1] = cos[i];
                    row[n + 2 * i] = -sin[i];
                    row[n + 2 * i + 1] = sin[i];
                }
            }
            else
            {
                cos.CopyTo(row);
                sin.CopyTo(row[pairs..]);
            }
        }
    }

    /// <summary>The row of one position (layout in the remarks).</summary>
    internal ReadOnlySpan<float> Row(int position)
    {
        if ((uint)position >= (uint)Positions)
            throw new ArgumentOutOfRangeException(nameof(position), $"position {position} is outside the RoPE table (0..{Positions - 1})");
        return _rows.AsSpan(position * RowLength, RowLength);
    }
}
