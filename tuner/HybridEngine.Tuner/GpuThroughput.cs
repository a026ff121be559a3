using System.Collections.Immutable;
using HybridEngine.Hardware;
using HybridEngine.Kernels;
using HybridEngine.Quantization;
using HybridEngine.Runtime;

namespace HybridEngine.Tuner;

/// <summary>
/// One GPU's figures through its <see cref="IComputeDevice"/>: host-to-device bandwidth (uploading a weight matrix,
/// allocation included, as the runtime places weights), and per weight type the matrix-vector and matrix-matrix
/// products with the weights resident (x copied in and y copied back each call, as the runtime does). The weight
/// rows come from the CPU benchmark's buffer.
/// </summary>
public static class GpuThroughput
{
    /// <param name="weightBytes">Matrix size for the upload and the matvec; large enough that launch overhead is small.</param>
    /// <param name="matMulBytes">Matrix size for the matrix-matrix product (compute-bound: a smaller one suffices).</param>
    public static GpuMeasurements Measure(IComputeDevice device, MatVecThroughput host, IReadOnlyList<GgmlType> types,
        long weightBytes, long matMulBytes, int tokens, TimeSpan budget, CancellationToken cancel, Action? afterEach = null)
    {
        var supported = types.Where(device.Supports).ToList();
        if (supported.Count == 0) throw new NotSupportedException($"{device.Name} runs none of the weight types measured");
        // A small GPU (or a small carve-out of an integrated one) still gets measured, on a matrix it can hold.
        weightBytes = Math.Min(weightBytes, device.MemoryBytes / 4);
        matMulBytes = Math.Min(matMulBytes, weightBytes);

        var upload = host.Fill(supported[0], weightBytes);
        double uploadSeconds = MatVecThroughput.Best(() => device.Upload(upload).Dispose(), budget, cancel);
        afterEach?.Invoke();

        var matvec = ImmutableArray.CreateBuilder<GpuMatPoint>();
        var matmul = ImmutableArray.CreateBuilder<GpuMatPoint>();
        foreach (var type in supported)
        {
            matvec.Add(Product(device, host.Fill(type, weightBytes), 1, budget, cancel));
            afterEach?.Invoke();
            matmul.Add(Product(device, host.Fill(type, matMulBytes), tokens, budget, cancel));
            afterEach?.Invoke();
        }
        return new GpuMeasurements(device.Name, device.MemoryBytes, upload.TotalBytes, upload.TotalBytes / uploadSeconds / 1e9,
            matvec.ToImmutable(), matmul.ToImmutable());
    }

    private static GpuMatPoint Product(IComputeDevice device, in WeightMatrix weights, int tokens, TimeSpan budget, CancellationToken cancel)
    {
        using var resident = device.Upload(weights);
        var random = new Random(4321);
        var x = new float[(long)tokens * weights.RowLength];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        var y = new float[(long)tokens * weights.Rows];
        double best = MatVecThroughput.Best(() => device.MatMul(resident, x, tokens, y), budget, cancel);
        if (!float.IsFinite(y[0]) || !float.IsFinite(y[^1]))
            throw new InvalidOperationException($"{device.Name}: {QuantTypes.Get(weights.Type).Name} product produced {y[0]}");
        return new GpuMatPoint(QuantTypes.Get(weights.Type).Name, weights.Rows, weights.RowLength, tokens,
            weights.TotalBytes / best / 1e9, 2.0 * weights.Rows * weights.RowLength * tokens / best / 1e9);
    }
}
