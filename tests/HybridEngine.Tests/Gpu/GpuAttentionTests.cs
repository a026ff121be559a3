using HybridEngine.Gpu;
using HybridEngine.Kernels;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// Attention over a device-resident KV cache against <see cref="CausalAttention.Run"/> on host copies of the same rows,
/// written in several <see cref="IComputeDevice.WriteKv"/> calls (a prefill chunk, then decode steps).
/// </summary>
public sealed class GpuAttentionTests(GpuTestDevice fixture) : IClassFixture<GpuTestDevice>
{
    private const double Unit = 1.0 / (1 << 24);   // float unit roundoff

    private readonly GpuDevice _gpu = fixture.Device;

    /// <summary>One attention geometry and the (first position, tokens) of each step written then attended.</summary>
    public sealed record Case(string Name, int Heads, int KvHeads, int KeyDim, int ValueDim, bool Aliased, int Context, (int Start, int Tokens)[] Steps)
    {
        public int KeyWidth => Aliased ? KeyDim : KvHeads * KeyDim;
        public int ValueWidth => Aliased ? 0 : KvHeads * ValueDim;
        public override string ToString() => Name;
    }

    private static readonly Case[] Cases =
    [
        new("gqa 8/2 x64", 8, 2, 64, 64, false, 48, [(0, 20), (20, 1), (21, 1), (22, 1)]),
        new("mla absorbed 4 heads 512+64", 4, 1, 576, 512, true, 24, [(0, 9), (9, 1), (10, 1)]),
        new("mla expanded 4 heads 48+16/40", 4, 4, 64, 40, false, 24, [(0, 7), (7, 1), (8, 1)]),
        new("headDim 37, 6/3 heads, 1 token", 6, 3, 37, 37, false, 16, [(0, 1), (1, 1)]),
        new("37-token batch at 5", 4, 2, 37, 29, false, 48, [(0, 5), (5, 37), (42, 1)]),
        // Rows 4..46 are never written: both caches read them as zeros.
        new("up to the context end", 3, 1, 33, 33, false, 50, [(0, 4), (47, 2), (49, 1)]),
    ];

    /// <summary>Every case with the device's own split (one chunk at these lengths) and split into 5-position chunks.</summary>
    public static TheoryData<string, int> CaseNames()
    {
        var data = new TheoryData<string, int>();
        foreach (var c in Cases)
        {
            data.Add(c.Name, 0);
            data.Add(c.Name, 5);
        }
        return data;
    }

    /// <summary>
    /// Both sides compute the same sums in a different order (SIMD vs lane tree; two-pass vs online softmax), so the
    /// tolerance is the float error bound of that computation: a score s_j = scale·q·k_j is off by at most
    /// δ = scale·(keyDim + 32)·u·Σ|q·k_j|, which moves each softmax weight by a relative 2δ on each side, and the
    /// n-term weighted sum adds n·u relative, all times max_j |v_j|. A wrong kv head, a missed or extra row or an
    /// unscaled score is off by a large multiple of that with these peaked (queries ×3) scores. Split into chunks, the
    /// merge rescales each chunk's sums once more (a few ulps), well inside the same bound.
    /// </summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Gpu_attention_matches_CausalAttention_over_successive_writes(string name, int chunkLength)
    {
        var c = Cases.Single(x => x.Name == name);
        _gpu.AttentionChunkLength = chunkLength;
        try { Run(c); }
        finally { _gpu.AttentionChunkLength = 0; }
    }

    private void Run(Case c)
    {
        string name = c.Name;
        var random = new Random(name.Length * 31 + c.Heads);
        var layout = new CausalAttention.Layout(c.Heads, c.Aliased ? 1 : c.KvHeads, c.KeyDim, c.ValueDim, c.KeyWidth,
            c.Aliased ? c.KeyWidth : c.ValueWidth);
        float scale = 1 / MathF.Sqrt(c.KeyDim);
        float[] hostKeys = new float[c.Context * c.KeyWidth], hostValues = new float[c.Context * c.ValueWidth];
        using var cache = _gpu.AllocateKvCache(2, c.Context, c.KeyWidth, c.ValueWidth);
        Assert.Equal(2L * c.Context * (c.KeyWidth + c.ValueWidth) * sizeof(float), cache.DeviceBytes);
        foreach (var (start, tokens) in c.Steps)
        {
            int[] positions = Enumerable.Range(start, tokens).ToArray();
            float[] keys = GpuMatMulTests.RandomFloats(random, tokens * c.KeyWidth);
            float[] values = GpuMatMulTests.RandomFloats(random, tokens * c.ValueWidth);
            _gpu.WriteKv(cache, 1, keys, values, positions);
            keys.CopyTo(hostKeys, start * c.KeyWidth);
            values.CopyTo(hostValues, start * c.ValueWidth);

            float[] queries = GpuMatMulTests.RandomFloats(random, tokens * c.Heads * c.KeyDim);
            for (int i = 0; i < queries.Length; i++) queries[i] *= 3;
            float[] output = new float[tokens * c.Heads * c.ValueDim], expected = new float[output.Length];
            _gpu.Attention(cache, 1, queries, tokens, positions, layout, scale, output);
            float[] hostV = c.Aliased ? hostKeys : hostValues;
            CausalAttention.Run(queries, tokens, positions, hostKeys, hostV, layout, scale, expected,
                new float[c.Heads * c.Context], null, Simd.Best);
            AssertWithinBound(c, layout, scale, queries, positions, hostKeys, hostV, expected, output);
        }
    }

    [Fact]
    public void Rows_written_out_of_order_land_at_their_positions()
    {
        const int width = 5;
        var layout = new CausalAttention.Layout(1, 1, width, width, width, width);
        using var cache = _gpu.AllocateKvCache(1, 8, width, width);
        float[] keys = new float[3 * width];   // all-zero keys: attention is the plain mean of the values
        float[] values = [.. Enumerable.Repeat(1f, width), .. Enumerable.Repeat(2f, width), .. Enumerable.Repeat(4f, width)];
        _gpu.WriteKv(cache, 0, keys, values, [6, 0, 1]);
        float[] output = new float[width];
        _gpu.Attention(cache, 0, new float[width], 1, [1], layout, 1f, output);
        Assert.All(output, v => Assert.Equal(3f, v, 5));           // rows 0 and 1: (2 + 4) / 2
        _gpu.Attention(cache, 0, new float[width], 1, [6], layout, 1f, output);
        Assert.All(output, v => Assert.Equal(7f / 7, v, 5));        // rows 0..6: (2 + 4 + 0·4 + 1) / 7
    }

    [Fact]
    public void Cpu_device_attention_is_exactly_the_direct_CausalAttention_call()
    {
        using var cpu = new CpuDevice();
        var random = new Random(8);
        const int heads = 8, kvHeads = 2, dim = 37, context = 45, tokens = 37, start = 5;
        var layout = new CausalAttention.Layout(heads, kvHeads, dim, dim, kvHeads * dim, kvHeads * dim);
        using var cache = cpu.AllocateKvCache(3, context, kvHeads * dim, kvHeads * dim);
        var host = ((CpuKvCache)cache).Cache;
        int[] prefill = Enumerable.Range(0, start).ToArray(), batch = Enumerable.Range(start, tokens).ToArray();
        cpu.WriteKv(cache, 2, GpuMatMulTests.RandomFloats(random, start * kvHeads * dim), GpuMatMulTests.RandomFloats(random, start * kvHeads * dim), prefill);
        float[] keys = GpuMatMulTests.RandomFloats(random, tokens * kvHeads * dim), values = GpuMatMulTests.RandomFloats(random, tokens * kvHeads * dim);
        cpu.WriteKv(cache, 2, keys, values, batch);
        Assert.Equal(keys.AsSpan(0, kvHeads * dim).ToArray(), host.KeyRow(2, start).ToArray());
        Assert.Equal(values.AsSpan((tokens - 1) * kvHeads * dim).ToArray(), host.ValueRow(2, start + tokens - 1).ToArray());

        float[] queries = GpuMatMulTests.RandomFloats(random, tokens * heads * dim);
        float[] viaDevice = new float[tokens * heads * dim], direct = new float[viaDevice.Length];
        cpu.Attention(cache, 2, queries, tokens, batch, layout, 0.3f, viaDevice);
        CausalAttention.Run(queries, tokens, batch, host.Keys(2), host.Values(2), layout, 0.3f, direct,
            new float[heads * context], null, cpu.Level);
        Assert.Equal(direct, viaDevice);
        Assert.Contains(viaDevice, v => v != 0);
    }

    [Fact]
    public void An_injected_fault_fails_attention_and_kv_writes_with_ComputeDeviceException()
    {
        var layout = new CausalAttention.Layout(2, 1, 4, 4, 4, 4);
        using var cache = _gpu.AllocateKvCache(1, 4, 4, 0);
        float[] row = [1, 2, 3, 4], output = new float[8];
        _gpu.FailNextOp = true;
        Assert.Equal("kv-write", Assert.Throws<ComputeDeviceException>(() => _gpu.WriteKv(cache, 0, row, [], [0])).Operation);
        _gpu.WriteKv(cache, 0, row, [], [0]);
        _gpu.FailNextOp = true;
        var e = Assert.Throws<ComputeDeviceException>(() => _gpu.Attention(cache, 0, new float[8], 1, [0], layout, 1f, output));
        Assert.Equal("attention", e.Operation);
        _gpu.Attention(cache, 0, new float[8], 1, [0], layout, 1f, output);
        Assert.Equal([1, 2, 3, 4, 1, 2, 3, 4], output);   // one row: weight 1 on the aliased key row
    }

    [Fact]
    public void Bad_arguments_are_argument_errors_not_device_faults()
    {
        using var cache = _gpu.AllocateKvCache(2, 4, 8, 0);
        using var cpu = new CpuDevice();
        using var cpuCache = cpu.AllocateKvCache(2, 4, 8, 0);
        float[] q = new float[8], o = new float[8];
        var layout = new CausalAttention.Layout(1, 1, 8, 8, 8, 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => _gpu.Attention(cache, 0, q, 1, [4], layout, 1f, o));
        Assert.Throws<ArgumentOutOfRangeException>(() => _gpu.WriteKv(cache, 2, q, [], [0]));
        Assert.Throws<ArgumentException>(() => _gpu.Attention(cache, 0, q, 1, [0], layout with { KeyStride = 9 }, 1f, o));
        Assert.Throws<ArgumentException>(() => _gpu.Attention(cpuCache, 0, q, 1, [0], layout, 1f, o));
        Assert.Throws<ArgumentException>(() => cpu.Attention(cache, 0, q, 1, [0], layout, 1f, o));
    }

    private static void AssertWithinBound(Case c, in CausalAttention.Layout layout, float scale, float[] queries, int[] positions,
        float[] keys, float[] values, float[] expected, float[] actual)
    {
        int group = c.Heads / layout.KvHeads;
        for (int t = 0; t < positions.Length; t++)
        for (int h = 0; h < c.Heads; h++)
        {
            int g = h / group, n = positions[t] + 1;
            double dotMagnitude = 0, valueMax = 0;
            for (int j = 0; j < n; j++)
            {
                double m = 0;
                for (int d = 0; d < c.KeyDim; d++)
                    m += Math.Abs(queries[(t * c.Heads + h) * c.KeyDim + d] * keys[j * layout.KeyStride + g * c.KeyDim + d]);
                dotMagnitude = Math.Max(dotMagnitude, m);
                for (int d = 0; d < c.ValueDim; d++)
                    valueMax = Math.Max(valueMax, Math.Abs(values[j * layout.ValueStride + g * c.ValueDim + d]));
            }
            double delta = scale * (c.KeyDim + 32) * Unit * dotMagnitude;
            double tolerance = valueMax * (4 * delta + 2 * (n + 32) * Unit) + 1e-7;
            for (int d = 0; d < c.ValueDim; d++)
            {
                int i = (t * c.Heads + h) * c.ValueDim + d;
                Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance,
                    $"{c.Name} t={t} h={h} d={d}: gpu {actual[i]} vs {expected[i]} (tol {tolerance:g3})");
            }
        }
    }
}
