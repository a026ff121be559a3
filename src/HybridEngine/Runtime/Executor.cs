using System.Diagnostics;
using HybridEngine.Kernels;
using HybridEngine.Models;

namespace HybridEngine.Runtime;

/// <summary>How a context is sized and run.</summary>
/// <param name="Context">Positions the KV cache holds; 0 = the model's trained context.</param>
/// <param name="BatchSize">Most tokens per forward step during prefill (longer prompts run in several steps).</param>
/// <param name="Threads">Compute threads; 0 = all cores.</param>
public sealed record ExecutorOptions(int Context = 0, int BatchSize = 64, int Threads = 0);

/// <summary>
/// Runs a model: owns the devices, the preallocated run state and KV cache of one context, and the counters.
/// Prompts go through in batches (matrix-matrix kernels), single tokens through matrix-vector kernels.
/// With a <see cref="DevicePlacement"/>, each product runs on the device holding its weights; when a device fails
/// (<see cref="ComputeDeviceException"/>) the placement falls back to the CPU (one warning) and the failed forward
/// step is redone on the CPU (see Executor.Devices.cs).
/// </summary>
public sealed partial class Executor : IDisposable
{
    private readonly ComputePool _pool;
    private readonly Dictionary<RopeParameters, RopeTable> _ropeTables = [];

    public Executor(IModel model, int activationRowBytes, ExecutorOptions? options = null, DevicePlacement? placement = null)
    {
        options ??= new ExecutorOptions();
        Model = model;
        var d = model.Dimensions;
        Context = options.Context > 0 ? options.Context : d.TrainedContext;
        if (Context <= 0) throw new ArgumentException("the context length must be positive");
        int batch = Math.Clamp(options.BatchSize, 1, Context);
        _pool = new ComputePool(options.Threads);
        Level = Simd.Best;
        Placement = placement;
        Devices = new DeviceSet(new CpuDevice(_pool, Level), placement?.Accelerators ?? []);
        State = new RunState(d, batch, Context, activationRowBytes);
        Counters = new RuntimeCounters(d.Layers, d.Experts);
        _history = new int[Context];
        _layerKv = new IDeviceKvCache?[d.Layers];
        _layerSlot = new int[d.Layers];
        if (placement is { Active: true }) AllocateDeviceCaches(placement);
        // A layer attending on an accelerator keeps its keys and values only there.
        Cache = new KvCache(d.Layers, Context, d.KeyWidth, d.ValueWidth, onHost: layer => _layerKv[layer] is null);
    }

    public IModel Model { get; }
    public int Context { get; }
    public int Vocab => Model.Dimensions.Vocab;
    public DeviceSet Devices { get; }
    public SimdLevel Level { get; }
    public ComputePool Pool => _pool;
    public RunState State { get; }
    public KvCache Cache { get; }
    public RuntimeCounters Counters { get; }

    /// <summary>What the plan put on accelerators, or null for a CPU-only run.</summary>
    public DevicePlacement? Placement { get; }

    /// <summary>Matrix products run on an accelerator so far (each a weight matrix times a batch of activations).</summary>
    public long AcceleratorProducts { get; private set; }

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions <paramref name="startPosition"/>.. and writes logits: for every
    /// token ([tokens, vocab]) when <paramref name="allLogits"/>, else only the last token's ([vocab]).
    /// Positions before <paramref name="startPosition"/> must already be in the cache from earlier calls.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, int startPosition, Span<float> logits, bool allLogits)
    {
        int n = tokens.Length;
        if (n == 0) throw new ArgumentException("no tokens to run", nameof(tokens));
        if (startPosition < 0 || startPosition + n > Context)
            throw new ContextOverflowException(
                $"{n} tokens at position {startPosition} need {startPosition + n} positions, but the context holds {Context}.");
        int vocab = Vocab;
        if (logits.Length < (allLogits ? n * vocab : vocab))
            throw new ArgumentException($"the logits buffer holds {logits.Length} values, {(allLogits ? n : 1)}×{vocab} needed", nameof(logits));
        foreach (int t in tokens)
            if ((uint)t >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {t} is outside the vocabulary (0..{vocab - 1})");

        for (int done = 0; done < n; done += State.BatchSize)
        {
            int count = Math.Min(State.BatchSize, n - done);
            bool last = done + count == n;
            long start = Stopwatch.GetTimestamp();
            Stage(tokens.Slice(done, count), startPosition + done);
            if (Counters.Trace is { } trace && count == 1) trace.BeginToken();
            try
            {
                Model.Forward(this, count, allLogits);
            }
            catch (ComputeDeviceException failure) when (Placement is { } placement && (placement.Active || HasDeviceCache))
            {
                FallBack(placement, failure, startPosition + done);
                Stage(tokens.Slice(done, count), startPosition + done);
                Model.Forward(this, count, allLogits);
            }
            Counters.AddForward(count, Stopwatch.GetTimestamp() - start, decode: n == 1 && startPosition > 0);
            if (allLogits) State.Logits.AsSpan(0, count * vocab).CopyTo(logits[(done * vocab)..]);
            else if (last) State.Logits.AsSpan(0, vocab).CopyTo(logits);
        }
    }

    /// <summary>Logits of every token, [tokens, vocab] (allocates the result; for evaluation, not the decode loop).</summary>
    public float[] Forward(ReadOnlySpan<int> tokens, int startPosition)
    {
        var logits = new float[tokens.Length * Vocab];
        Forward(tokens, startPosition, logits, allLogits: true);
        return logits;
    }

    /// <summary>The cos/sin table of <paramref name="parameters"/> for every position of this context, built on first use.</summary>
    public RopeTable RopeTable(RopeParameters parameters)
    {
        if (!_ropeTables.TryGetValue(parameters, out var table))
        {
            table = new RopeTable(parameters, Context);
            _ropeTables.Add(parameters, table);
        }
        return table;
    }

    /// <summary><c>y = W·x</c> for <paramref name="tokens"/> rows, on the device holding <paramref name="w"/>.</summary>
    public void Linear(in TensorHandle w, ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        if (w.DeviceWeights is { } onDevice) Linear(onDevice, x, tokens, y);
        else Devices.Cpu.MatMul(w.Matrix, x[..(tokens * w.RowLength)], tokens, y[..(tokens * w.Rows)], State.ActivationScratch);
    }

    /// <summary><c>y = W·x</c> on the accelerator holding <paramref name="w"/> (activations are copied in and out).</summary>
    public void Linear(IDeviceWeights w, ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        w.Device.MatMul(w, x[..(tokens * w.RowLength)], tokens, y[..(tokens * w.Rows)]);
        AcceleratorProducts++;
    }

    /// <summary><c>y[t] = down · (silu(gate·x[t]) ⊙ (up·x[t]))</c> for a routed expert uploaded to an accelerator.</summary>
    public void ExpertProduct(DeviceExpert expert, ReadOnlySpan<float> x, int tokens, Span<float> y) =>
        ExpertProduct(expert.Gate, expert.Up, expert.Down, x, tokens, y);

    /// <summary>The same for a SwiGLU feed-forward whose three matrices live on one accelerator (dense or shared FFN).</summary>
    public void ExpertProduct(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        gate.Device.ExpertProduct(gate, up, down, x[..(tokens * gate.RowLength)], tokens, y[..(tokens * down.Rows)]);
        AcceleratorProducts += 3;
    }

    /// <summary>Counts matrix products an accelerator ran inside a fused device op.</summary>
    public void CountAcceleratorProducts(int products) => AcceleratorProducts += products;

    /// <summary><c>y = W·x</c> for a routed expert's matrix.</summary>
    public void Linear(in WeightMatrix w, ReadOnlySpan<float> x, int tokens, Span<float> y) =>
        Devices.Cpu.MatMul(w, x[..(tokens * w.RowLength)], tokens, y[..(tokens * w.Rows)], State.ActivationScratch);

    /// <summary><c>ya = A·x</c> and <c>yb = B·x</c> for a routed expert's gate and up, x quantized once where they share its type.</summary>
    public void LinearPair(in WeightMatrix a, in WeightMatrix b, ReadOnlySpan<float> x, int tokens, Span<float> ya, Span<float> yb) =>
        Devices.Cpu.MatMulPair(a, b, x[..(tokens * a.RowLength)], tokens, ya[..(tokens * a.Rows)], yb[..(tokens * b.Rows)], State.ActivationScratch);

    /// <summary>As <see cref="LinearPair(in WeightMatrix, in WeightMatrix, ReadOnlySpan{float}, int, Span{float}, Span{float})"/>; falls back to two products where either matrix lives on an accelerator.</summary>
    public void LinearPair(in TensorHandle a, in TensorHandle b, ReadOnlySpan<float> x, int tokens, Span<float> ya, Span<float> yb)
    {
        if (a.DeviceWeights is null && b.DeviceWeights is null)
        {
            LinearPair(a.Matrix, b.Matrix, x, tokens, ya, yb);
            return;
        }
        Linear(a, x, tokens, ya);
        Linear(b, x, tokens, yb);
    }

    // Puts a batch's tokens and positions in the state, and remembers the tokens per position (for a cache rebuild).
    private void Stage(ReadOnlySpan<int> tokens, int firstPosition)
    {
        tokens.CopyTo(State.Tokens);
        tokens.CopyTo(_history.AsSpan(firstPosition));
        for (int i = 0; i < tokens.Length; i++) State.Positions[i] = firstPosition + i;
    }

    public void Dispose()
    {
        DropDeviceCaches();
        _pool.Dispose();
    }
}
