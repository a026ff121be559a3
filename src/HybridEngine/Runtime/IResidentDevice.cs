using HybridEngine.Kernels;

namespace HybridEngine.Runtime;

/// <summary>
/// An accelerator that keeps a block's activations in its own memory from one op to the next, so they cross the bus
/// only where the computation moves between devices: a block's input goes up once and its output comes down once.
/// Also launches routed experts without waiting, so the CPU computes its own experts of the layer meanwhile.
/// Not thread-safe, like every <see cref="IComputeDevice"/>: the host thread queues work and goes on with its own.
/// </summary>
public interface IResidentDevice : IComputeDevice
{
    /// <summary>Host↔device copies of activations, positions and rotary angles made so far (weight uploads not counted).</summary>
    DeviceTransfers Transfers { get; }

    /// <summary>
    /// A whole grouped-query attention block on the device, over the cache's <paramref name="layer"/>:
    /// <code>
    ///   q = Wq·x, k = Wk·x, v = Wv·x;  q, k ← per-head rmsnorm (when given), then RoPE at positions[t]
    ///   cache[positions[t]] ← k, v;    y = Wo · attention(q, cache)
    /// </code>
    /// x [tokens, Wq.RowLength] comes up in one copy (with the positions and their rotary angles), y [tokens, Wo.Rows]
    /// comes back in one; q, k, v, the attention output and the new cache rows never leave the device.
    /// </summary>
    void AttentionBlock(in GqaDeviceBlock block, IDeviceKvCache cache, int layer, ReadOnlySpan<float> x, int tokens,
        ReadOnlySpan<int> positions, Span<float> y);

    /// <summary>
    /// A whole absorbed multi-head latent attention block on the device (see <c>MlaAttention</c>), over the cache's
    /// <paramref name="layer"/> of [KvLoraRank + RopeDim]-wide rows:
    /// <code>
    ///   q = QB·rmsnorm(QA·x) (or Q·x);  [c, kpe] = KvA·x;  c = rmsnorm(c);  q_pe, kpe ← RoPE at positions[t]
    ///   cache[positions[t]] ← [c, kpe];  q_abs[h] = [KB[h]·q_nope[h], q_pe[h]]
    ///   o[h] = VB[h] · attention(q_abs[h], cache);  y = Output · concat_h(o[h])
    /// </code>
    /// x [tokens, KvA.RowLength] comes up in one copy (with the positions and their rotary angles), y [tokens,
    /// Output.Rows] comes back in one; every intermediate and the new cache rows stay on the device.
    /// </summary>
    void MlaBlock(in MlaDeviceBlock block, IDeviceKvCache cache, int layer, ReadOnlySpan<float> x, int tokens,
        ReadOnlySpan<int> positions, Span<float> y);

    /// <summary>
    /// Starts a batch of routed-expert products: x [rows, hidden] (the rows of every expert of the batch, grouped by
    /// expert) goes up in one copy; outputs are [rows, <paramref name="outputWidth"/>]. Nothing waits.
    /// </summary>
    void BeginExperts(ReadOnlySpan<float> x, int rows, int outputWidth);

    /// <summary>
    /// Queues one expert's SwiGLU product (see <see cref="IComputeDevice.ExpertProduct"/>) on rows
    /// [<paramref name="firstRow"/>, firstRow + rows) of the batch; returns without waiting for it.
    /// </summary>
    void QueueExpert(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, int firstRow, int rows);

    /// <summary>Waits for the queued experts and copies the batch's outputs [rows, outputWidth] back in one copy.</summary>
    void EndExperts(Span<float> y);
}

/// <summary>The device weights and shape of a grouped-query attention block (see <see cref="IResidentDevice.AttentionBlock"/>).</summary>
/// <param name="QNorm">Per-head RMS norm weights of q ([HeadDim]; uploaded once, then reused), or null.</param>
/// <param name="KNorm">The same for k, or null.</param>
public readonly record struct GqaDeviceBlock(IDeviceWeights Q, IDeviceWeights K, IDeviceWeights V, IDeviceWeights Output,
    float[]? QNorm, float[]? KNorm, float HeadNormEps, int Heads, int KvHeads, int HeadDim, RopeParameters Rope, float Scale);

/// <summary>The device weights and shape of an absorbed MLA block (see <see cref="IResidentDevice.MlaBlock"/>).</summary>
/// <param name="QA">Low-rank query down-projection, or null when <paramref name="Q"/> maps x to the queries directly.</param>
/// <param name="QANorm">RMS norm weights of the query latent ([QLoraRank]) when <paramref name="QA"/> is given.</param>
/// <param name="KB">Per head: [KvLoraRank, NopeDim], absorbed into the query. Heads uploaded together
/// (<see cref="IComputeDevice.UploadHeads"/>) may be applied in one launch; the same holds for <paramref name="VB"/>.</param>
/// <param name="VB">Per head: [ValueDim, KvLoraRank], applied to the head's latent attention output.</param>
public readonly record struct MlaDeviceBlock(IDeviceWeights? QA, float[]? QANorm, IDeviceWeights? QB, IDeviceWeights? Q,
    IDeviceWeights KvA, float[] KvANorm, IDeviceWeights[] KB, IDeviceWeights[] VB, IDeviceWeights Output,
    int Heads, int KvLoraRank, int NopeDim, int RopeDim, int ValueDim, RopeParameters Rope, float Scale, float Eps);

/// <summary>Counts of host↔device copies of one device; cheap enough to stay on.</summary>
public sealed class DeviceTransfers
{
    public long ToDevice { get; private set; }
    public long ToHost { get; private set; }
    public long BytesToDevice { get; private set; }
    public long BytesToHost { get; private set; }

    /// <summary>Copies in both directions.</summary>
    public long Copies => ToDevice + ToHost;

    public long Bytes => BytesToDevice + BytesToHost;

    public void AddToDevice(long bytes) { ToDevice++; BytesToDevice += bytes; }

    public void AddToHost(long bytes) { ToHost++; BytesToHost += bytes; }

    public void Reset() => ToDevice = ToHost = BytesToDevice = BytesToHost = 0;
}
