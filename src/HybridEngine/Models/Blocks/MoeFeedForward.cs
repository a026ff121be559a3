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
/// Experts are requested as units from an <see cref="IExpertSource"/>, so a cache can stand behind it.
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
        if (experts is IExpertPrefetcher { PrefetchActive: true } prefetcher)
        {
            prefetcher.Prefetch(Layer, s.Chosen.AsSpan(0, tokens * k), chosen: true);
            if (tokens == 1 && Next is { } next) GuessNext(ex, next, prefetcher);
        }

        // The shared experts first: they need no routed weights, so they compute while the routed experts' reads are in
        // flight. Their output is added after the routed sum, as before, so the result does not depend on this order.
        shared?.Forward(ex, tokens, s.SharedOut);
        var output = s.BlockOut.AsSpan(0, tokens * hidden);
        output.Clear();
        if (tokens == 1 && experts is IExpertPrefetcher { PrefetchActive: true } streaming) ReadyFirst(ex, streaming, hidden, k, output);
        else
        {
            for (int e = 0; e < n; e++)
            {
                int rows = Gather(s, e, tokens, k, hidden);
                if (rows == 0) continue;
                Compute(ex, e, s.ExpertInput.AsSpan(0, rows * hidden), rows, s.ExpertOutput);
                for (int i = 0; i < rows; i++)
                {
                    var target = output.Slice(s.ExpertTokens[i] * hidden, hidden);
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(s.ExpertOutput.AsSpan(i * hidden, hidden), s.ExpertTokenWeights[i], target, target);
                }
            }
        }

        if (shared != null) System.Numerics.Tensors.TensorPrimitives.Add(output, s.SharedOut.AsSpan(0, tokens * hidden), output);
    }

    // One expert's FFN over `rows` gathered inputs into `result` (rows × hidden).
    private void Compute(Executor ex, int e, Span<float> input, int rows, Span<float> result)
    {
        var s = ex.State;
        if (ex.Placement?.Expert(Layer, e) is { } onDevice)
        {
            // A GPU expert runs where its weights were uploaded, its hidden layer kept there; the source (and any
            // cache) is not asked for it.
            ex.ExpertProduct(onDevice, input, rows, s.ExpertOutput);
            if (!Unsafe.AreSame(ref result[0], ref s.ExpertOutput[0])) s.ExpertOutput.AsSpan(0, result.Length).CopyTo(result);
            return;
        }
        var weights = experts.GetExpert(Layer, e);
        int ffn = weights.Gate.Rows;
        var g = s.Gate.AsSpan(0, rows * ffn);
        var u = s.Up.AsSpan(0, rows * ffn);
        ex.LinearPair(weights.Gate, weights.Up, input, rows, g, u);
        SwiGlu.Apply(g, u, g, ex.Level);
        ex.Linear(weights.Down, g, rows, result);
    }

    /// <summary>
    /// Decode of one token with experts streaming: the chosen experts are computed in the order their reads finish
    /// (those already in RAM first, while the others are still being read), each into its own slot, and the slots are
    /// then added in expert order, exactly as the batch path adds them, so the output does not depend on read timing.
    /// </summary>
    private void ReadyFirst(Executor ex, IExpertPrefetcher streaming, int hidden, int k, Span<float> output)
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
            Compute(ex, _order[pick], input, 1, _slots.AsSpan(pick * hidden, hidden));
        }
        for (int i = 0; i < m; i++)
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_slots.AsSpan(i * hidden, hidden), _orderWeights[i], output, output);
    }

    // The next layer's router applied to this layer's input: the hidden state changes little from one layer to the
    // next, so its choice is a good guess of the next layer's, and its experts can be read while this layer computes.
    private void GuessNext(Executor ex, MoeFeedForward next, IExpertPrefetcher prefetcher)
    {
        var s = ex.State;
        int n = next.Spec.Experts, k = next.Spec.ExpertsUsed;
        _guessLogits ??= new float[n];
        _guessChosen ??= new int[k];
        _guessWeights ??= new float[k];
        ex.Linear(next.RouterWeights, s.Normed, 1, _guessLogits);
        Router.Route(next.Spec, _guessLogits, next.SelectionBias, _guessChosen, _guessWeights, s.RouterScratch, ex.Level);
        prefetcher.Prefetch(next.Layer, _guessChosen, chosen: false);
    }

    // Copies the inputs of the tokens that chose expert e into ExpertInput; returns how many.
    private static int Gather(RunState s, int e, int tokens, int k, int hidden)
    {
        int rows = 0;
        for (int t = 0; t < tokens; t++)
        {
            for (int j = 0; j < k; j++)
            {
                if (s.Chosen[t * k + j] != e) continue;
                s.ExpertTokens[rows] = t;
                s.ExpertTokenWeights[rows] = s.ChosenWeights[t * k + j];
                s.Normed.AsSpan(t * hidden, hidden).CopyTo(s.ExpertInput.AsSpan(rows * hidden, hidden));
                rows++;
                break;
            }
        }
        return rows;
    }
}
