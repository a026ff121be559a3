using HybridEngine.Models.Synthetic;
using HybridEngine.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Models;

/// <summary>
/// Every architecture on a tiny seeded model, at each weight type, against llama.cpp: over 64 positions the mean
/// KL(llama.cpp ‖ ours) must stay within the budget (1e-4 nats for f32/f16, where only summation order
/// differs; 2e-3 for quantized weights, where the activation quantization of both engines may round a value
/// differently) and the top-1 tokens agree at ≥ 99 % of positions.
/// </summary>
public sealed class SyntheticForwardTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string arch in new[] { "llama", "mixtral", "qwen3moe" })
            foreach (string type in new[] { "f32", "f16", "q8_0", "q4_k" })
                data.Add(arch, type);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsMatchLlamaCpp(string arch, string type) => Compare(arch, type, new SyntheticOptions(SyntheticModels.ParseType(type), Seed: 5));

    public static TheoryData<string, string, int, float> DeepseekCases()
    {
        var data = new TheoryData<string, string, int, float>();
        foreach (string type in new[] { "f32", "f16" })
        {
            data.Add(type, "k_b_v_b", 0, 0f);
            data.Add(type, "kv_b", 0, 0f);
        }
        // Expert groups (4 groups, 2 kept) and a strongly skewed selection bias.
        data.Add("f32", "k_b_v_b", 4, 0f);
        data.Add("f32", "k_b_v_b", 0, 2f);
        data.Add("f16", "kv_b", 4, 2f);
        return data;
    }

    /// <summary>deepseek2 (V3-like tiny: q LoRA, sigmoid gating with exp_probs_b, YaRN, shared expert, one dense lead layer), both layouts.</summary>
    [Theory]
    [MemberData(nameof(DeepseekCases))]
    public void DeepseekLogitsMatchLlamaCpp(string type, string layout, int groups, float skew) =>
        Compare("deepseek2", $"{type} {layout} groups={groups} skew={skew}", new SyntheticOptions(SyntheticModels.ParseType(type), Seed: 5,
            Skew: skew, Groups: groups, Layout: layout == "kv_b" ? MlaLayout.KvB : MlaLayout.KbVb));

    /// <summary>
    /// DeepSeek-V2-Lite's layout at tiny widths: 27 layers (llama.cpp's "lite": attn_q, no q LoRA), softmax gating
    /// without selection bias or renormalisation, two shared experts, YaRN log multiplier 0.0707.
    /// </summary>
    [Theory]
    [InlineData("f32", "k_b_v_b")]
    [InlineData("f32", "kv_b")]
    public void DeepseekLiteLogitsMatchLlamaCpp(string type, string layout)
    {
        var spec = SyntheticModels.Spec("deepseek2", "v2lite") with
        {
            Hidden = 64, Heads = 2, Ffn = 128, ExpertFfn = 32, Experts = 8, ExpertsUsed = 2,
            KvLoraRank = 64, NopeDim = 32, RopeDim = 16, ValueDim = 32, PaddedVocab = 0,
        };
        Compare("deepseek2", $"{type} lite {layout}", new SyntheticOptions(SyntheticModels.ParseType(type), Seed: 2,
            Layout: layout == "kv_b" ? MlaLayout.KvB : MlaLayout.KbVb), spec: spec);
    }

    /// <summary>
    /// Quantized deepseek2 (written by the engine's own quantizer), with block outputs at
    /// <see cref="LlamaCppQuantizedParityTests.DeepseekResidualScale"/> of the residual stream (see there why).
    /// </summary>
    [Theory]
    [InlineData("q8_0", "k_b_v_b")]
    [InlineData("q8_0", "kv_b")]
    [InlineData("q4_k", "k_b_v_b")]
    [InlineData("q4_k", "kv_b")]
    public void DeepseekQuantizedLogitsMatchLlamaCpp(string type, string layout) =>
        Compare("deepseek2", $"{type} {layout}", new SyntheticOptions(SyntheticModels.ParseType(type), Seed: 5,
                Layout: layout == "kv_b" ? MlaLayout.KvB : MlaLayout.KbVb),
            spec: SyntheticModels.Spec("deepseek2", "tiny") with { ResidualBranchScale = LlamaCppQuantizedParityTests.DeepseekResidualScale });

    internal void Compare(string arch, string type, SyntheticOptions options, string preset = "tiny", SyntheticModelSpec? spec = null)
    {
        spec ??= SyntheticModels.Spec(arch, preset);
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "model.gguf");
            SyntheticWriter.Write(spec, options, path);
            using var model = LoadedModel.Load(path);
            var (meanKl, maxKl, top1) = LogitComparison.AgainstLlamaCpp(model, path);
            output.WriteLine($"{arch} {type}: mean KL {meanKl:E3}, max KL {maxKl:E3}, top-1 {top1:P1}");
            double budget = type.StartsWith("f32") || type.StartsWith("f16") ? 1e-4 : 2e-3;
            Assert.True(meanKl <= budget, $"mean KL {meanKl} over {budget}");
            Assert.True(top1 >= 0.99, $"top-1 agreement {top1}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
