using System.Runtime.CompilerServices;
using HybridEngine.Kernels;
using HybridEngine.Runtime;

namespace HybridEngine.Models.Blocks;

/// <summary>
/// A mixture-of-experts FFN layer: route every token, then compute each expert once for all the tokens of the batch
/// that chose it (its weights are read once per batch), and add the weighted outputs:
/// <code>
///   out[t] = Σ_j w[t][j] · FFN_{idx[t][j]}(x[t])   (+ shared FFN(x[t]) when the layer has shared experts)
/// </code>
/// Experts are requested as units from an <see cref="IExpertSource"/>, so a cache can stand behind it. Experts the plan
/// put on an <see cref="IResidentDevice"/> are launched there first as one batch (one copy up, one down) without
/// waiting; the CPU computes its experts meanwhile, and the batch's weighted outputs are added last.
/// </summary>
public sealed class MoeFeedForward(int layer, RouterSpec spec, TensorHandle router, float[]? selectionBias, IExpertSource experts,
    FeedForward? shared = null)
{
    public int Layer { get; } = layer;

    public RouterSpec Spec { get; } = spec;

    /// <summary>
    /// The next MoE layer, whose router is applied to this layer's input during decode to guess (and read ahead) the
    /// experts it will choose; set by the model after building its layers.
    /// </summary>
    public MoeFeedForward? Next { get; set; }

    private TensorHandle RouterWeights => router;

    private float[]? SelectionBias => selectionBias;

    // Scratch of the next-layer guess, sized once.
    private float[]? _guessLogits, _guessWeights;
    private int[]? _guessChosen;

    // Scratch of the ready-first decode path, sized once: chosen experts in order, their weights, done flags, outputs.
    private int[]? _order;
    private float[]? _orderWeights;
    private bool[]? _done;
    private float[]? _slots;

    /// <summary>Reads <c>State.Normed</c> and writes <c>State.BlockOut</c>.</summary>
    public void Forward(Executor ex, int tokens)
    {
        var s = ex.State;
        int hidden = router.RowLength, n = Spec.Experts, k = Spec.ExpertsUsed;
        ex.Linear(router, s.Normed, tokens, s.RouterLogits);
        for (int t = 0; t < tokens; t++)
        {
            Router.Route(Spec, s.RouterLogits.AsSpan(t * n, n), selectionBias, s.Chosen.AsSpan(t * k, k), s.ChosenWeights.AsSpan(t * k, k),
                s.RouterScratch, ex.Level);
            for (int j = 0; j < k; j++) ex.Counters.AddRouted(Layer, s.Chosen[t * k + j]);
        }
        var prefetcher = experts is IExpertPrefetcher { PrefetchActive: true } p ? p : null;
        prefetcher?.Prefetch(Layer, s.Chosen.AsSpan(0, tokens * k), chosen: true);
        // A routing trace records the guesses too (so that prefetch can be scored offline), even with nothing streamed.
        if (tokens == 1 && Next is { } next && (prefetcher != null || ex.Counters.Trace != null)) GuessNext(ex, next, prefetcher);

        // The shared experts first: they need no routed weights, so they compute while the routed experts' reads are in
        // flight. Their output is added after the routed sum, as before, so the result does not depend on this order.
        shared?.Forward(ex, tokens, s.SharedOut);
        var output = s.BlockOut.AsSpan(0, tokens * hidden);
        output.Clear();
        // Experts on an accelerator that keeps activations go first, as one batch launched without waiting: the CPU
        // computes its own experts while they run, and their outputs are added after the CPU's.
        var batchDevice = LaunchDeviceExperts(ex, tokens, k, hidden, out int batchRows, out int batched);
        int onDevice = batched, onCpu = 0;
        if (batchDevice is null && tokens == 1 && experts is IExpertPrefetcher { PrefetchActive: true } streaming)
            ReadyFirst(ex, streaming, hidden, k, output, ref onDevice, ref onCpu);
        else
        {
            for (int e = 0; e < n; e++)
            {
                if (batchDevice is not null && ex.Placement?.Expert(Layer, e) is { } placed && placed.Gate.Device == batchDevice) continue;   // in the batch
                int rows = Gather(s, e, tokens, k, hidden, s.ExpertInput, s.ExpertTokens, s.ExpertTokenWeights, 0);
                if (rows == 0) continue;
                if (Compute(ex, e, s.ExpertInput.AsSpan(0, rows * hidden), rows, s.ExpertOutput)) onDevice++;
                else onCpu++;
                AddWeighted(output, s.ExpertOutput, s.ExpertTokens, s.ExpertTokenWeights, rows, hidden);
            }
        }
        if (batchDevice is not null)
        {
            var batch = s.DeviceExperts;
            batchDevice.EndExperts(batch.Output.AsSpan(0, batchRows * hidden));
            AddWeighted(output, batch.Output, batch.Tokens, batch.Weights, batchRows, hidden);
            if (onCpu > 0) ex.Counters.AddOverlappedStep();
        }
        ex.Counters.AddExpertProducts(onDevice, onCpu);

        if (shared != null) System.Numerics.Tensors.TensorPrimitives.Add(output, s.SharedOut.AsSpan(0, tokens * hidden), output);
    }

    // One expert's FFN over `rows` gathered inputs into `result` (rows × hidden); true when it ran on an accelerator.
    private bool Compute(Executor ex, int e, Span<float> input, int rows, Span<float> result)
    {
        var s = ex.State;
        if (ex.Placement?.Expert(Layer, e) is { } onDevice)
        {
            // A GPU expert runs where its weights were uploaded, its hidden layer kept there; the source (and any
            // cache) is not asked for it.
            ex.ExpertProduct(onDevice, input, rows, s.ExpertOutput);
            if (!Unsafe.AreSame(ref result[0], ref s.ExpertOutput[0])) s.ExpertOutput.AsSpan(0, result.Length).CopyTo(result);
            return true;
        }
        var weights = experts.GetExpert(Layer, e);
        int ffn = weights.Gate.Rows;
        var g = s.Gate.AsSpan(0, rows * ffn);
        var u = s.Up.AsSpan(0, rows * ffn);
        ex.LinearPair(weights.Gate, weights.Up, input, rows, g, u);
        SwiGlu.Apply(g, u, g, ex.Level);
        ex.Linear(weights.Down, g, rows, result);
        return false;
    }

    /// <summary>
    /// Decode of one token with experts streaming: the chosen experts are computed in the order their reads finish
    /// (those already in RAM first, while the others are still being read), each into its own slot, and the slots are
    /// then added in expert order, exactly as the batch path adds them, so the output does not depend on read timing.
    /// </summary>
    private void ReadyFirst(Executor ex, IExpertPrefetcher streaming, int hidden, int k, Span<float> output, ref int onDevice, ref int onCpu)
    {
        var s = ex.State;
        _order ??= new int[k];
        _orderWeights ??= new float[k];
        _done ??= new bool[k];
        _slots ??= new float[k * hidden];
        // The distinct chosen experts in ascending order; a repeated choice keeps its first weight (as Gather does).
        int m = 0;
        for (int j = 0; j < k; j++)
        {
            int e = s.Chosen[j], at = 0;
            while (at < m && _order[at] < e) at++;
            if (at < m && _order[at] == e) continue;
            for (int i = m; i > at; i--) { _order[i] = _order[i - 1]; _orderWeights[i] = _orderWeights[i - 1]; }
            _order[at] = e;
            _orderWeights[at] = s.ChosenWeights[j];
            m++;
        }
        var input = s.ExpertInput.AsSpan(0, hidden);
        s.Normed.AsSpan(0, hidden).CopyTo(input);
        Array.Clear(_done);
        for (int count = 0; count < m; count++)
        {
            int pick = -1;
            for (int i = 0; i < m && pick < 0; i++) if (!_done[i] && streaming.IsReady(Layer, _order[i])) pick = i;
            for (int i = 0; i < m && pick < 0; i++) if (!_done[i]) pick = i; // nothing ready: wait for the first
            _done[pick] = true;
            if (Compute(ex, _order[pick], input, 1, _slots.AsSpan(pick * hidden, hidden))) onDevice++;
            else onCpu++;
        }
        for (int i = 0; i < m; i++)
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_slots.AsSpan(i * hidden, hidden), _orderWeights[i], output, output);
    }

    // The next layer's router applied to this layer's input: the hidden state changes little from one layer to the
    // next, so its choice is a good guess of the next layer's, and its experts can be read while this layer computes.
    private void GuessNext(Executor ex, MoeFeedForward next, IExpertPrefetcher? prefetcher)
    {
        var s = ex.State;
        int n = next.Spec.Experts, k = next.Spec.ExpertsUsed;
        _guessLogits ??= new float[n];
        _guessChosen ??= new int[k];
        _guessWeights ??= new float[k];
        ex.Linear(next.RouterWeights, s.Normed, 1, _guessLogits);
        Router.Route(next.Spec, _guessLogits, next.SelectionBias, _guessChosen, _guessWeights, s.RouterScratch, ex.Level);
        ex.Counters.Trace?.AddGuess(next.Layer, _guessChosen);
        prefetcher?.Prefetch(next.Layer, _guessChosen, chosen: false);
    }

    // Gathers the rows of the experts this layer placed on one resident accelerator (the first one met), grouped by
    // expert, and queues them there in one batch; returns that device, or null when none of its experts was chosen.
    private IResidentDevice? LaunchDeviceExperts(Executor ex, int tokens, int k, int hidden, out int rows, out int queued)
    {
        rows = queued = 0;
        if (ex.Placement is not { Experts: > 0 } placement) return null;
        IResidentDevice? device = null;
        DeviceExpertBatch? batch = null;
        for (int e = 0; e < Spec.Experts; e++)
        {
            if (placement.Expert(Layer, e) is not { Gate.Device: IResidentDevice on }) continue;
            if (device is null) device = on;
            else if (on != device) continue;
            batch ??= ex.State.DeviceExperts;
            int got = Gather(ex.State, e, tokens, k, hidden, batch.Input, batch.Tokens, batch.Weights, rows);
            if (got == 0) continue;
            batch.Experts[queued] = e;
            batch.Starts[queued++] = rows;
            rows += got;
        }
        if (rows == 0 || device is null || batch is null) return null;
        device.BeginExperts(batch.Input.AsSpan(0, rows * hidden), rows, hidden);
        for (int i = 0; i < queued; i++)
        {
            var expert = placement.Expert(Layer, batch.Experts[i])!;
            int end = i + 1 < queued ? batch.Starts[i + 1] : rows;
            device.QueueExpert(expert.Gate, expert.Up, expert.Down, batch.Starts[i], end - batch.Starts[i]);
        }
        ex.CountAcceleratorProducts(3 * queued);
        return device;
    }

    // output[token_i] += weight_i · y_i for the rows of one expert (or of a batch).
    private static void AddWeighted(Span<float> output, float[] y, int[] rowTokens, float[] rowWeights, int rows, int hidden)
    {
        for (int i = 0; i < rows; i++)
        {
            var target = output.Slice(rowTokens[i] * hidden, hidden);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(y.AsSpan(i * hidden, hidden), rowWeights[i], target, target);
        }
    }

    // Copies the inputs of the tokens that chose expert e into rows at.. of input (with each row's token and router
    // weight); returns how many.
    private static int Gather(RunState s, int e, int tokens, int k, int hidden, float[] input, int[] rowTokens, float[] rowWeights, int at)
    {
        int rows = 0;
        for (int t = 0; t < tokens; t++)
        {
            for (int j = 0; j < k; j++)
            {
                if (s.Chosen[t * k + j] != e) continue;
                rowTokens[at + rows] = t;
                rowWeights[at + rows] = s.ChosenWeights[t * k + j];
                s.Normed.AsSpan(t * hidden, hidden).CopyTo(input.AsSpan((at + rows) * hidden, hidden));
                rows++;
                break;
            }
        }
        return rows;
    }
}
