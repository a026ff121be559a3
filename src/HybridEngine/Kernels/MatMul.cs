using HybridEngine.Kernels.Dot;

namespace HybridEngine.Kernels;

/// <summary>
/// <c>y[t][n] = Σ_k W[n][k]·x[t][k]</c> for a batch of token rows, done the way ggml's CPU backend does it: each
/// activation row is quantized once to the weight type's dot type, then every weight row is dotted block by block
/// against every token with integer block sums scaled by the block scales. Rows are split across the pool; each
/// weight row is read once from memory and dotted with all tokens while it is in cache.
/// </summary>
public static unsafe class MatMul
{
    /// <summary>Scratch bytes needed for <paramref name="tokens"/> quantized activation rows of <paramref name="w"/>.</summary>
    public static int ScratchBytes(in WeightMatrix w, int tokens) => tokens * ActivationQuantizer.RowBytes(w.DotType, w.RowLength);

    /// <summary>
    /// Quantizes <paramref name="x"/> ([tokens, RowLength]) into <paramref name="scratch"/> and computes
    /// <paramref name="y"/> ([tokens, Rows]).
    /// </summary>
    public static void Run(in WeightMatrix w, ReadOnlySpan<float> x, int tokens, Span<float> y, Span<byte> scratch,
        ComputePool? pool = null, SimdLevel? level = null)
    {
        var simd = Simd.Clamp(level ?? Simd.Best);
        RunQuantized(w, Quantize(w, x, tokens, scratch, pool, simd), tokens, y, pool, simd);
    }

    /// <summary>
    /// Quantizes <paramref name="x"/> ([tokens, RowLength]) to <paramref name="w"/>'s <see cref="WeightMatrix.DotType"/>
    /// into <paramref name="scratch"/> and returns the part written: the activations <see cref="RunQuantized"/> takes,
    /// for this matrix and any other with the same dot type and row length.
    /// </summary>
    public static ReadOnlySpan<byte> Quantize(in WeightMatrix w, ReadOnlySpan<float> x, int tokens, Span<byte> scratch,
        ComputePool? pool = null, SimdLevel? level = null)
    {
        var simd = Simd.Clamp(level ?? Simd.Best);
        int actBytes = ActivationQuantizer.RowBytes(w.DotType, w.RowLength);
        if (x.Length < tokens * w.RowLength) throw new ArgumentException($"x holds {x.Length} values, {tokens}×{w.RowLength} needed.");
        if (scratch.Length < tokens * actBytes) throw new ArgumentException($"Scratch holds {scratch.Length} bytes, {tokens * actBytes} needed.");
        fixed (float* px = x)
        fixed (byte* ps = scratch)
        {
            var quantize = new QuantizeJob { Type = w.DotType, Input = px, RowLength = w.RowLength, Output = ps, RowBytes = actBytes, Level = simd };
            if (pool is null || tokens == 1) quantize.Execute(0, tokens);
            else pool.Run(ref quantize, tokens);
        }
        return scratch[..(tokens * actBytes)];
    }

    /// <summary>
    /// As <see cref="Run"/> with activations already quantized to <see cref="WeightMatrix.DotType"/> (one row of
    /// <see cref="ActivationQuantizer.RowBytes"/> bytes per token): lets one quantization serve many matrices.
    /// </summary>
    public static void RunQuantized(in WeightMatrix w, ReadOnlySpan<byte> activations, int tokens, Span<float> y,
        ComputePool? pool = null, SimdLevel? level = null)
    {
        var simd = Simd.Clamp(level ?? Simd.Best);
        int actBytes = ActivationQuantizer.RowBytes(w.DotType, w.RowLength);
        if (activations.Length < tokens * actBytes) throw new ArgumentException($"Activations hold {activations.Length} bytes, {tokens * actBytes} needed.");
        if (y.Length < (long)tokens * w.Rows) throw new ArgumentException($"y holds {y.Length} values, {tokens}×{w.Rows} needed.");
        fixed (byte* pa = activations)
        fixed (float* py = y)
        {
            var job = new RowsJob
            {
                Dot = DotKernels.Get(w.Type, simd),
                Dot4 = DotKernels.GetDot4(w.Type, simd),
                Width = DotKernels.MultiTokenWidth(w.Type, simd),
                Weights = w.Data,
                RowBytes = w.RowBytes,
                Blocks = w.BlocksPerRow,
                Activations = pa,
                ActBytes = actBytes,
                Tokens = tokens,
                Output = py,
                Rows = w.Rows,
            };
            if (pool is null) job.Execute(0, w.Rows);
            else pool.Run(ref job, w.Rows, minChunk: 4);
        }
    }

    /// <summary>Quantizes token rows [start, end) of a batch (prompt processing spreads them over the pool).</summary>
    private struct QuantizeJob : IRangeJob
    {
        public Quantization.GgmlType Type;
        public float* Input;
        public int RowLength;
        public byte* Output;
        public int RowBytes;
        public SimdLevel Level;

        public readonly void Execute(int start, int end)
        {
            for (int t = start; t < end; t++)
                ActivationQuantizer.QuantizeRow(Type, Input + (long)t * RowLength, RowLength, Output + (long)t * RowBytes, Level);
        }
    }

    /// <summary>
    /// Rows [start, end) of the product; the tokens are the inner loop so a weight row is fetched once. Where the type
    /// has a multi-token kernel, tokens go through it <see cref="DotKernels.MultiTokenWidth"/> at a time (it unpacks
    /// each weight block once for all of them), in cache tiles of rows × tokens.
    /// </summary>
    private struct RowsJob : IRangeJob
    {
        public delegate*<byte*, byte*, int, float> Dot;
        public delegate*<byte*, byte*, long, int, int, float*, long, void> Dot4;
        public int Width;
        public byte* Weights;
        public long RowBytes;
        public int Blocks;
        public byte* Activations;
        public int ActBytes;
        public int Tokens;
        public float* Output;   // [tokens, rows]
        public int Rows;

        /// <summary>
        /// Bytes of quantized activations, and of weight rows, one tile keeps in use: together well inside a 32-48 KiB
        /// L1 data cache. Without tiles every weight row streamed all tokens' activations from L2 (1.2 MB at 512
        /// tokens of 2048), and those loads, not the arithmetic, set the speed.
        /// </summary>
        private const int ActivationTile = 16384, RowTile = 16384;

        public readonly void Execute(int start, int end)
        {
            if (Dot4 != null && Tokens > 1)
            {
                // Tiles of rows × tokens: a tile's weights and activations stay in L1 while every pair is computed.
                int tb = Math.Max(Width, ActivationTile / ActBytes / Width * Width);
                int rb = Math.Max(1, (int)(RowTile / RowBytes));
                for (int r0 = start; r0 < end; r0 += rb)
                {
                    int r1 = Math.Min(r0 + rb, end);
                    for (int t0 = 0; t0 < Tokens; t0 += tb)
                    {
                        int t1 = Math.Min(t0 + tb, Tokens);
                        for (int r = r0; r < r1; r++)
                        {
                            byte* w = Weights + r * RowBytes;
                            for (int t = t0; t < t1; t += Width)
                                Dot4(w, Activations + (long)t * ActBytes, ActBytes, Math.Min(Width, t1 - t), Blocks, Output + (long)t * Rows + r, Rows);
                        }
                    }
                }
                return;
            }
            for (int r = start; r < end; r++)
            {
                byte* row = Weights + r * RowBytes;
                for (int t = 0; t < Tokens; t++)
                    Output[(long)t * Rows + r] = Dot(row, Activations + (long)t * ActBytes, Blocks);
            }
        }
    }
}
