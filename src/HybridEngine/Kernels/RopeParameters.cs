namespace HybridEngine.Kernels;

/// <summary>Which dimensions RoPE rotates together (ggml's <c>mode</c> values).</summary>
public enum RopeMode
{
    /// <summary>Consecutive pairs (x[2i], x[2i+1]) with frequency i: llama, deepseek2 (SPEC 4.3).</summary>
    Norm = 0,
    /// <summary>Split halves (x[i], x[i + n_rot/2]) with frequency i: GPT-NeoX, Qwen.</summary>
    Neox = 2,
}

/// <summary>
/// The RoPE / YaRN parameters of ggml's <c>ggml_rope_ext</c>, and the angle and magnitude of every rotated pair.
/// </summary>
/// <remarks>
/// For pair i (0 ≤ i &lt; n_rot/2) at position p, in float as ggml computes them (ops.cpp <c>rope_yarn</c>, ggml.c
/// <c>ggml_rope_yarn_corr_dims</c>; SPEC 4.3):
/// <code>
///   θ_extrap = p · base^(−2i/n_rot)                  (ggml: running product p·ts·ts…, ts = powf(base, −2/n_rot))
///   θ_interp = freq_scale · θ_extrap                 (freq_scale = 1/factor)
///   corr(β)  = n_rot · ln(n_ctx_orig / (2π·β)) / (2 ln base)
///   low      = max(0, floor(corr(beta_fast)));  high = min(n_rot − 1, ceil(corr(beta_slow)))
///   ramp(i)  = 1 − clamp((i − low) / max(0.001, high − low), 0, 1)
///   if ext_factor ≠ 0:  θ = θ_interp·(1 − ramp·ext) + θ_extrap·ramp·ext,   mag = attn_factor·(1 + 0.1·ln(1/freq_scale))
///   else:               θ = θ_interp,                                        mag = attn_factor
///   cos_i = cos(θ)·mag,  sin_i = sin(θ)·mag
/// </code>
/// So pairs i ≤ low keep the original frequency and pairs i ≥ high are divided by the factor. llama.cpp passes
/// deepseek2 an attn_factor of 1/(1 + 0.1·ln factor) (when mscale = mscale_all_dim), which cancels the YaRN
/// magnitude: see <see cref="UnitMagnitudeAttnFactor"/>.
/// </remarks>
public sealed record RopeParameters
{
    /// <summary>n_rot: how many leading dims of each head rotate (even).</summary>
    public required int RotaryDims { get; init; }
    public RopeMode Mode { get; init; } = RopeMode.Norm;
    public float FreqBase { get; init; } = 10000f;
    /// <summary>1/factor for linear or YaRN scaling; 1 for none.</summary>
    public float FreqScale { get; init; } = 1f;
    /// <summary>YaRN mix strength: 1 for YaRN, 0 for plain (or linearly scaled) RoPE.</summary>
    public float ExtFactor { get; init; }
    public float AttnFactor { get; init; } = 1f;
    public float BetaFast { get; init; } = 32f;
    public float BetaSlow { get; init; } = 1f;
    /// <summary>n_ctx_orig: the training context the YaRN correction dims are computed for.</summary>
    public int OriginalContext { get; init; }

    /// <summary>YaRN as llama.cpp configures it for a GGUF with <c>rope.scaling.type = yarn</c>.</summary>
    public static RopeParameters Yarn(int rotaryDims, RopeMode mode, float freqBase, float factor, int originalContext, float attnFactor = 1f) =>
        new()
        {
            RotaryDims = rotaryDims, Mode = mode, FreqBase = freqBase, FreqScale = 1f / factor,
            ExtFactor = 1f, AttnFactor = attnFactor, OriginalContext = originalContext,
        };

    /// <summary>The attn_factor that makes the YaRN magnitude exactly cancel: 1/(1 + 0.1·ln(1/freq_scale)).</summary>
    public static float UnitMagnitudeAttnFactor(float freqScale) => 1f / (1f + 0.1f * MathF.Log(1f / freqScale));

    /// <summary>Checks the values before any table is built.</summary>
    public void Validate()
    {
        if (RotaryDims <= 0 || RotaryDims % 2 != 0) throw new ArgumentException($"RoPE rotary dims must be positive and even, got {RotaryDims}");
        if (!(FreqBase > 0)) throw new ArgumentException($"RoPE freq base must be positive, got {FreqBase}");
        if (!(FreqScale > 0)) throw new ArgumentException($"RoPE freq scale must be positive, got {FreqScale}");
        if (Mode is not (RopeMode.Norm or RopeMode.Neox)) throw new ArgumentException($"unsupported RoPE mode {Mode}; supported: Norm, Neox");
    }

    /// <summary>The YaRN correction dims (low, high), as pair indices: floor/ceil and clamped as in ggml.</summary>
    public (float Low, float High) CorrectionDims()
    {
        float start = MathF.Floor(CorrectionDim(BetaFast));
        float end = MathF.Ceiling(CorrectionDim(BetaSlow));
        return (MathF.Max(0f, start), MathF.Min(RotaryDims - 1, end));
    }

    // The pair index whose wavelength makes `rotations` full turns over the original context.
    private float CorrectionDim(float rotations) =>
        RotaryDims * MathF.Log(OriginalContext / (rotations * 2f * MathF.PI)) / (2f * MathF.Log(FreqBase));

    /// <summary>
    /// Writes cos_i and sin_i (magnitude included) for every pair of one position. Allocation-free; the table and the
    /// scalar twin both use it.
    /// </summary>
    public void ComputeRow(int position, Span<float> cos, Span<float> sin)
    {
        int pairs = RotaryDims / 2;
        if (cos.Length < pairs || sin.Length < pairs) throw new ArgumentException($"need {pairs} cos and sin slots");
        float thetaScale = MathF.Pow(FreqBase, -2.0f / RotaryDims);
        var (low, high) = CorrectionDims();
        float magnitude = AttnFactor;
        if (ExtFactor != 0f) magnitude *= 1.0f + 0.1f * MathF.Log(1.0f / FreqScale);
        float thetaExtrap = position;
        for (int i = 0; i < pairs; i++)
        {
            float thetaInterp = FreqScale * thetaExtrap;
            float theta = thetaInterp;
            if (ExtFactor != 0f)
            {
                float mix = Ramp(low, high, i) * ExtFactor;
                theta = thetaInterp * (1 - mix) + thetaExtrap * mix;
            }
            cos[i] = MathF.Cos(theta) * magnitude;
            sin[i] = MathF.Sin(theta) * magnitude;
            thetaExtrap *= thetaScale;
        }
    }

    /// <summary>1 for pairs that keep the original frequency, 0 for fully interpolated ones, linear between.</summary>
    public static float Ramp(float low, float high, int pair)
    {
        float y = (pair - low) / MathF.Max(0.001f, high - low);
        return 1 - MathF.Min(1, MathF.Max(0, y));
    }
}
