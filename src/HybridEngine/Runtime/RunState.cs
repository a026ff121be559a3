using HybridEngine.Models;

namespace HybridEngine.Runtime;

/// <summary>
/// Every activation buffer of one context, allocated once for up to <see cref="BatchSize"/> tokens per forward call
/// (row-major, one row per token). The shared blocks use these by name, so nothing is allocated per token.
/// </summary>
public sealed class RunState
{
    public RunState(ModelDimensions d, int batchSize, int context, int activationRowBytes)
    {
        BatchSize = batchSize;
        _dimensions = d;
        int b = batchSize;
        Tokens = new int[b];
        Positions = new int[b];
        Residual = new float[b * d.Hidden];
        Normed = new float[b * d.Hidden];
        BlockOut = new float[b * d.Hidden];
        SharedOut = new float[b * d.Hidden];
        Query = new float[b * d.QueryWidth];
        Key = new float[b * Math.Max(d.KeyWidth, 1)];
        Value = new float[b * Math.Max(d.ValueWidth, 1)];
        Attention = new float[b * d.AttentionWidth];
        Scores = new float[d.Heads * context];
        Gate = new float[b * d.FfnWidth];
        Up = new float[b * d.FfnWidth];
        Extra = new float[b * d.ExtraWidth];
        RouterLogits = new float[b * Math.Max(d.Experts, 1)];
        RouterScratch = new float[2 * Math.Max(d.Experts, 1)];
        Chosen = new int[b * Math.Max(d.ExpertsUsed, 1)];
        ChosenWeights = new float[b * Math.Max(d.ExpertsUsed, 1)];
        ExpertTokens = new int[b];
        ExpertTokenWeights = new float[b];
        ExpertInput = new float[b * d.Hidden];
        ExpertOutput = new float[b * d.Hidden];
        Logits = new float[b * d.Vocab];
        ActivationScratch = new byte[b * activationRowBytes];
    }

    public int BatchSize { get; }

    /// <summary>[tokens] ids of the current batch.</summary>
    public int[] Tokens { get; }
    /// <summary>[tokens] absolute positions of the current batch.</summary>
    public int[] Positions { get; }
    /// <summary>[tokens, hidden] the residual stream.</summary>
    public float[] Residual { get; }
    /// <summary>[tokens, hidden] the normalised input of the current block.</summary>
    public float[] Normed { get; }
    /// <summary>[tokens, hidden] the output of the current block, before it is added to the residual.</summary>
    public float[] BlockOut { get; }
    /// <summary>[tokens, hidden] the shared experts' output.</summary>
    public float[] SharedOut { get; }
    /// <summary>[tokens, queryWidth]</summary>
    public float[] Query { get; }
    /// <summary>[tokens, keyWidth]</summary>
    public float[] Key { get; }
    /// <summary>[tokens, valueWidth]</summary>
    public float[] Value { get; }
    /// <summary>[tokens, attentionWidth]</summary>
    public float[] Attention { get; }
    /// <summary>[heads, context] attention probabilities of one token.</summary>
    public float[] Scores { get; }
    /// <summary>[tokens, ffn]</summary>
    public float[] Gate { get; }
    /// <summary>[tokens, ffn]</summary>
    public float[] Up { get; }
    /// <summary>[tokens, extraWidth] architecture-specific scratch.</summary>
    public float[] Extra { get; }
    /// <summary>[tokens, experts]</summary>
    public float[] RouterLogits { get; }
    /// <summary>[2·experts] per-token routing scratch.</summary>
    public float[] RouterScratch { get; }
    /// <summary>[tokens, expertsUsed] chosen expert ids.</summary>
    public int[] Chosen { get; }
    /// <summary>[tokens, expertsUsed] their weights.</summary>
    public float[] ChosenWeights { get; }
    /// <summary>[tokens] the batch rows routed to the expert being computed.</summary>
    public int[] ExpertTokens { get; }
    /// <summary>[tokens] their weights for that expert.</summary>
    public float[] ExpertTokenWeights { get; }
    /// <summary>[tokens, hidden] gathered inputs of one expert.</summary>
    public float[] ExpertInput { get; }
    /// <summary>[tokens, hidden] one expert's outputs.</summary>
    public float[] ExpertOutput { get; }
    /// <summary>[tokens, vocab]</summary>
    public float[] Logits { get; }
    /// <summary>Quantized activation rows for the matrix kernels.</summary>
    public byte[] ActivationScratch { get; }

    private readonly ModelDimensions _dimensions;
    private DeviceExpertBatch? _deviceExperts;

    /// <summary>The rows of a layer's accelerator experts, made on first use (only runs with experts on a GPU need it).</summary>
    public DeviceExpertBatch DeviceExperts => _deviceExperts ??= new DeviceExpertBatch(BatchSize * Math.Max(_dimensions.ExpertsUsed, 1), _dimensions);
}

/// <summary>
/// The routed-expert rows one MoE layer sends to an accelerator in one batch, grouped by expert: up to
/// tokens × expertsUsed rows of hidden values in, as many out, and per row its token and router weight.
/// </summary>
public sealed class DeviceExpertBatch(int rows, ModelDimensions d)
{
    public float[] Input { get; } = new float[rows * d.Hidden];
    public float[] Output { get; } = new float[rows * d.Hidden];
    public int[] Tokens { get; } = new int[rows];
    public float[] Weights { get; } = new float[rows];
    /// <summary>The experts of the batch and the first row of each.</summary>
    public int[] Experts { get; } = new int[Math.Max(d.Experts, 1)];
    public int[] Starts { get; } = new int[Math.Max(d.Experts, 1)];
}
