namespace HybridEngine.Models.Blocks;

/// <summary>
/// One pre-norm transformer layer (SPEC 4.1): <c>x += Attn(RMSNorm(x, attnNorm))</c>, then
/// <c>x += FFN(RMSNorm(x, ffnNorm))</c>, the FFN dense or mixture-of-experts (exactly one of the two is set).
/// </summary>
public sealed record DecoderLayer(float[] AttnNorm, IAttentionBlock Attention, float[] FfnNorm, FeedForward? Dense, MoeFeedForward? Moe);
