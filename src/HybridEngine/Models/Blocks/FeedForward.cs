using HybridEngine.Kernels;
using HybridEngine.Runtime;

namespace HybridEngine.Models.Blocks;

/// <summary>
/// The SwiGLU feed-forward network, dense or shared-expert: <c>out = Wdown · (silu(Wgate·x) ⊙ (Wup·x))</c>.
/// </summary>
public sealed class FeedForward(TensorHandle gate, TensorHandle up, TensorHandle down)
{
    /// <summary>Reads <c>State.Normed</c> and writes <paramref name="output"/> ([tokens, hidden]).</summary>
    public void Forward(Executor ex, int tokens, float[] output)
    {
        var s = ex.State;
        if (gate.DeviceWeights is { } dg && up.DeviceWeights is { } du && down.DeviceWeights is { } dd && dg.Device == du.Device && dg.Device == dd.Device)
        {
            // All three on one device: the expert product keeps the hidden layer there (one copy in, one out).
            ex.ExpertProduct(dg, du, dd, s.Normed, tokens, output);
            return;
        }
        int ffn = gate.Rows;
        var g = s.Gate.AsSpan(0, tokens * ffn);
        var u = s.Up.AsSpan(0, tokens * ffn);
        ex.LinearPair(gate, up, s.Normed, tokens, g, u);
        SwiGlu.Apply(g, u, g, ex.Level);
        ex.Linear(down, g, tokens, output);
    }
}
