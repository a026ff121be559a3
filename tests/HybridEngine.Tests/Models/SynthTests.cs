using System.CommandLine;
using System.Security.Cryptography;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Models;

/// <summary>Synthetic model files: reproducibility, the deepseek2 tensor set of SPEC 3.2, storage types, skew, CLI.</summary>
public sealed class SynthTests
{
    private static byte[] Sha256(SyntheticModelSpec spec, SyntheticOptions options)
    {
        using var stream = new MemoryStream();
        SyntheticWriter.Build(spec, options).WriteTo(stream);
        return SHA256.HashData(stream.ToArray());
    }

    [Theory]
    [InlineData("deepseek2", "f16")]
    [InlineData("qwen3moe", "q8_0")]
    [InlineData("mixtral", "f32")]
    [InlineData("llama", "f16")]
    public void SameSeedSameBytesOtherSeedOtherBytes(string arch, string type)
    {
        var spec = SyntheticModels.Spec(arch, "tiny");
        var options = new SyntheticOptions(SyntheticModels.ParseType(type), Seed: 42);
        byte[] first = Sha256(spec, options);
        Assert.Equal(first, Sha256(spec, options));
        Assert.NotEqual(first, Sha256(spec, options with { Seed = 43 }));
    }

    [Fact]
    public void SkewChangesOnlyTheRoutingTensors()
    {
        var spec = SyntheticModels.Spec("deepseek2", "tiny");
        var plain = new SyntheticWeights(spec, new SyntheticOptions(Seed: 5), foldRouterBias: false);
        var skewed = new SyntheticWeights(spec, new SyntheticOptions(Seed: 5, Skew: 1f), foldRouterBias: false);
        var tensors = SyntheticModels.Architecture("deepseek2").Tensors(spec, new SyntheticOptions(), 300).ToList();
        foreach (var tensor in tensors.Where(t => t.ElementCount < 1 << 16))
        {
            var a = new float[tensor.RowLength];
            var b = new float[tensor.RowLength];
            plain.For(tensor).FillRow(0, a);
            skewed.For(tensor).FillRow(0, b);
            if (tensor.Role == WeightRole.ExpertBias) Assert.NotEqual(a, b);
            else Assert.Equal(a, b);
        }
    }

    /// <summary>
    /// ResidualBranchScale multiplies exactly the projections that write into the residual stream (attn_output and
    /// every ffn_down) and leaves every other tensor's values as they were.
    /// </summary>
    [Theory]
    [InlineData(MlaLayout.KbVb)]
    [InlineData(MlaLayout.KvB)]
    public void ResidualBranchScaleScalesOnlyTheResidualProjections(MlaLayout layout)
    {
        var spec = SyntheticModels.Spec("deepseek2", "tiny");
        var scaledSpec = spec with { ResidualBranchScale = 0.25f };
        var options = new SyntheticOptions(Seed: 5, Layout: layout);
        var plain = new SyntheticWeights(spec, options, foldRouterBias: false);
        var scaled = new SyntheticWeights(scaledSpec, options, foldRouterBias: false);
        var architecture = SyntheticModels.Architecture("deepseek2");
        var before = architecture.Tensors(spec, options, 300).ToList();
        var after = architecture.Tensors(scaledSpec, options, 300).ToList();
        Assert.Equal(before.Select(t => t.Name), after.Select(t => t.Name));
        int residual = 0;
        for (int i = 0; i < before.Count; i++)
        {
            var a = new float[before[i].RowLength];
            var b = new float[after[i].RowLength];
            plain.For(before[i]).FillRow(1, a);
            scaled.For(after[i]).FillRow(1, b);
            bool isResidual = before[i].Name.Contains("attn_output") || before[i].Name.Contains("ffn_down");
            if (isResidual) residual++;
            // 0.25 is a power of two, so the scaled values are exact.
            Assert.Equal(isResidual ? a.Select(v => v * 0.25f) : a, b);
        }
        Assert.Equal(3 + 1 + 2 * 2, residual); // 3 attn_output, 1 dense ffn_down, 2 MoE layers × (ffn_down_exps, ffn_down_shexp)
    }

    /// <summary>
    /// The tensor set of SPEC 3.2, transcribed here from the spec's table: names and ggml shapes for the MLA
    /// (attn_k_b/attn_v_b) and legacy (attn_kv_b) layouts, for a q-LoRA preset and for V2-Lite's attn_q.
    /// </summary>
    [Theory]
    [InlineData("tiny", MlaLayout.KbVb)]
    [InlineData("tiny", MlaLayout.KvB)]
    [InlineData("v2lite", MlaLayout.KbVb)]
    [InlineData("v2lite", MlaLayout.KvB)]
    public void DeepseekTensorSetMatchesSpec(string preset, MlaLayout layout)
    {
        var s = SyntheticModels.Spec("deepseek2", preset);
        var options = new SyntheticOptions(GgmlType.F16, Layout: layout);
        int vocab = SyntheticModels.Architecture("deepseek2").Vocab(s).Count;
        long E = s.Hidden, V = vocab, Hn = s.Heads, dk = s.NopeDim + s.RopeDim, dv = s.ValueDim, r = s.RopeDim, nope = s.NopeDim;
        long qr = s.QLoraRank, kr = s.KvLoraRank, F = s.Ffn, Fe = s.ExpertFfn, X = s.Experts, S = s.SharedExperts;
        var expected = new Dictionary<string, long[]>
        {
            ["token_embd.weight"] = [E, V], ["output_norm.weight"] = [E], ["output.weight"] = [E, V],
        };
        for (int i = 0; i < s.Layers; i++)
        {
            string b = $"blk.{i}.";
            expected[b + "attn_norm.weight"] = [E];
            if (qr > 0)
            {
                expected[b + "attn_q_a_norm.weight"] = [qr];
                expected[b + "attn_q_a.weight"] = [E, qr];
                expected[b + "attn_q_b.weight"] = [qr, Hn * dk];
            }
            else expected[b + "attn_q.weight"] = [E, Hn * dk];
            expected[b + "attn_kv_a_mqa.weight"] = [E, kr + r];
            expected[b + "attn_kv_a_norm.weight"] = [kr];
            if (layout == MlaLayout.KbVb)
            {
                expected[b + "attn_k_b.weight"] = [nope, kr, Hn];
                expected[b + "attn_v_b.weight"] = [kr, dv, Hn];
            }
            else expected[b + "attn_kv_b.weight"] = [kr, Hn * (nope + dv)];
            expected[b + "attn_output.weight"] = [Hn * dv, E];
            expected[b + "ffn_norm.weight"] = [E];
            if (i < s.DenseLeadLayers)
            {
                expected[b + "ffn_gate.weight"] = [E, F];
                expected[b + "ffn_up.weight"] = [E, F];
                expected[b + "ffn_down.weight"] = [F, E];
                continue;
            }
            expected[b + "ffn_gate_inp.weight"] = [E, X];
            if (s.Gating == ExpertGating.Sigmoid) expected[b + "exp_probs_b.bias"] = [X];
            expected[b + "ffn_gate_exps.weight"] = [E, Fe, X];
            expected[b + "ffn_up_exps.weight"] = [E, Fe, X];
            expected[b + "ffn_down_exps.weight"] = [Fe, E, X];
            expected[b + "ffn_gate_shexp.weight"] = [E, Fe * S];
            expected[b + "ffn_up_shexp.weight"] = [E, Fe * S];
            expected[b + "ffn_down_shexp.weight"] = [Fe * S, E];
        }
        var plan = SyntheticWriter.Plan(s, options);
        Assert.Equal(expected.Keys.Order(), plan.Select(p => p.Tensor.Name).Order());
        foreach (var p in plan) Assert.Equal(expected[p.Tensor.Name], p.Tensor.Shape);
    }

    [Fact]
    public void V2LiteHasTheRealShape()
    {
        // SPEC 3.3, DeepSeek-V2-Lite; the vocab is synthetic but padded to the real 102400 tokens.
        var s = SyntheticModels.Spec("deepseek2", "v2lite");
        Assert.Equal((2048, 27, 1, 10944, 64, 6, 2, 1408, 16), (s.Hidden, s.Layers, s.DenseLeadLayers, s.Ffn, s.Experts, s.ExpertsUsed, s.SharedExperts, s.ExpertFfn, s.Heads));
        Assert.Equal((0, 512, 128, 64, 128), (s.QLoraRank, s.KvLoraRank, s.NopeDim, s.RopeDim, s.ValueDim));
        Assert.Equal(102400, SyntheticModels.Architecture("deepseek2").Vocab(s).Count);
        // SPEC 4.7's parameter counts per component.
        var plan = SyntheticWriter.Plan(s, new SyntheticOptions(GgmlType.Q4_K));
        long routed = plan.Where(p => p.Tensor.Name.EndsWith("_exps.weight")).Sum(p => p.Tensor.ElementCount);
        long shared = plan.Where(p => p.Tensor.Name.EndsWith("_shexp.weight")).Sum(p => p.Tensor.ElementCount);
        long dense = plan.Where(p => p.Tensor.Name is "blk.0.ffn_gate.weight" or "blk.0.ffn_up.weight" or "blk.0.ffn_down.weight").Sum(p => p.Tensor.ElementCount);
        Assert.Equal(14_394_851_328, routed);
        Assert.Equal(449_839_104, shared);
        Assert.Equal(67_239_936, dense);
        foreach (var layout in new[] { MlaLayout.KbVb, MlaLayout.KvB })
        {
            long attention = SyntheticWriter.Plan(s, new SyntheticOptions(Layout: layout))
                .Where(p => p.Tensor.Name.Contains(".attn_") && p.Tensor.Shape.Length > 1).Sum(p => p.Tensor.ElementCount);
            Assert.Equal(371_589_120, attention); // SPEC 4.7 (matrices only; k_b + v_b hold exactly kv_b's elements)
        }
    }

    /// <summary>SPEC 2.10/2.11: what each tensor is stored as when q4_k or q8_0 is requested.</summary>
    [Fact]
    public void StorageTypesFollowTheQuantizerFallbacks()
    {
        SyntheticTensor M(long rowLength) => SyntheticTensor.Matrix("blk.1.x.weight", rowLength, 8);
        Assert.Equal(GgmlType.Q4_K, SyntheticWriter.StorageType(M(512), GgmlType.Q4_K));
        Assert.Equal(GgmlType.Q5_0, SyntheticWriter.StorageType(M(1408), GgmlType.Q4_K)); // V2-Lite ffn_down_exps
        Assert.Equal(GgmlType.F16, SyntheticWriter.StorageType(M(48), GgmlType.Q4_K));
        Assert.Equal(GgmlType.Q8_0, SyntheticWriter.StorageType(M(96), GgmlType.Q8_0));
        Assert.Equal(GgmlType.F16, SyntheticWriter.StorageType(M(48), GgmlType.Q8_0));
        Assert.Equal(GgmlType.F16, SyntheticWriter.StorageType(M(48), GgmlType.F16));
        var router = new SyntheticTensor("blk.1.ffn_gate_inp.weight", [512, 8], WeightRole.Router, 512, 1);
        Assert.Equal(GgmlType.F32, SyntheticWriter.StorageType(router, GgmlType.Q4_K));
        Assert.Equal(GgmlType.F32, SyntheticWriter.StorageType(SyntheticTensor.Norm("blk.1.attn_norm.weight", 512), GgmlType.F16));

        var plan = SyntheticWriter.Plan(SyntheticModels.Spec("deepseek2", "tiny"), new SyntheticOptions(GgmlType.Q4_K));
        Assert.Equal(GgmlType.Q5_0, plan.Single(p => p.Tensor.Name == "blk.1.attn_k_b.weight").Type); // ne0 = nope (SPEC 2.11)
        Assert.Contains(plan, p => p.Type == GgmlType.Q4_K);
    }

    /// <summary>attn_k_b/attn_v_b hold exactly the elements of attn_kv_b, rearranged as SPEC 3.2 says.</summary>
    [Fact]
    public void SplitAttentionTensorsAreTheLegacyOnesRearranged()
    {
        var s = SyntheticModels.Spec("deepseek2", "tiny");
        var weights = new SyntheticWeights(s, new SyntheticOptions(Seed: 9), foldRouterBias: false);
        var arch = SyntheticModels.Architecture("deepseek2");
        var kvb = arch.Tensors(s, new SyntheticOptions(Layout: MlaLayout.KvB), 300).Single(t => t.Name == "blk.1.attn_kv_b.weight");
        var split = arch.Tensors(s, new SyntheticOptions(Layout: MlaLayout.KbVb), 300).Where(t => t.Layer == 1).ToList();
        var kb = split.Single(t => t.Name == "blk.1.attn_k_b.weight");
        var vb = split.Single(t => t.Name == "blk.1.attn_v_b.weight");
        int kr = s.KvLoraRank, nope = s.NopeDim, dv = s.ValueDim, per = nope + dv;
        float[][] kvRows = Rows(weights, kvb); // [Hn·(nope+dv)][kr]
        float[][] kbRows = Rows(weights, kb);  // [Hn·kr][nope]
        float[][] vbRows = Rows(weights, vb);  // [Hn·dv][kr]
        for (int h = 0; h < s.Heads; h++)
        {
            for (int c = 0; c < kr; c++)
                for (int d = 0; d < nope; d++) Assert.Equal(kvRows[h * per + d][c], kbRows[h * kr + c][d]);
            for (int v = 0; v < dv; v++) Assert.Equal(kvRows[h * per + nope + v], vbRows[h * dv + v]);
        }
    }

    private static float[][] Rows(SyntheticWeights weights, SyntheticTensor t)
    {
        var source = weights.For(t);
        var rows = new float[t.Rows][];
        for (long r = 0; r < t.Rows; r++) { rows[r] = new float[t.RowLength]; source.FillRow(r, rows[r]); }
        return rows;
    }

    /// <summary>
    /// With the bias folded into the router rows, the mean router logit of each expert over all (RMS-normalised)
    /// token embeddings sits at its popularity bias. Tolerance 0.3: the unbiased part of a logit is ~N(0, 1) per
    /// token, averaged over ~330 tokens (±0.06), plus the spread of h·d around √(hidden/2).
    /// </summary>
    [Fact]
    public void FoldedRouterBiasShiftsExpertLogits()
    {
        var s = SyntheticModels.Spec("mixtral", "tiny");
        var options = new SyntheticOptions(Seed: 1, Skew: 1f);
        var arch = SyntheticModels.Architecture("mixtral");
        int vocab = arch.Vocab(s).Count;
        var weights = new SyntheticWeights(s, options, arch.FoldsRouterBias);
        var tensors = arch.Tensors(s, options, vocab).ToList();
        float[][] embd = Rows(weights, tensors.Single(t => t.Name == "token_embd.weight"));
        float[][] router = Rows(weights, tensors.Single(t => t.Name == "blk.1.ffn_gate_inp.weight"));
        float[] bias = weights.PopularityBias(1);
        Assert.True(bias.Max() - bias.Min() > 1.5f, "skew 1 over 8 experts spans ln 8");
        for (int e = 0; e < s.Experts; e++)
        {
            double mean = embd.Average(x =>
            {
                double rms = Math.Sqrt(x.Average(v => (double)v * v));
                return x.Select((v, j) => v / rms * router[e][j]).Sum();
            });
            Assert.InRange(mean, bias[e] - 0.3, bias[e] + 0.3);
        }
    }

    [Fact]
    public void CommandWritesTheModelAndRejectsBadInput()
    {
        var root = new RootCommand { SynthCommand.Create() };
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            var error = new StringWriter();
            Assert.Equal(0, CliRunner.Run(root, ["synth", "--arch", "qwen3moe", "--preset", "tiny", "--out", path, "--type", "f16", "--seed", "3"], error));
            var expected = new MemoryStream();
            SyntheticWriter.Build(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(GgmlType.F16, Seed: 3)).WriteTo(expected);
            Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));

            Assert.Equal(2, CliRunner.Run(root, ["synth", "--arch", "gpt5", "--preset", "tiny", "--out", path], error));
            Assert.Contains("gpt5", error.ToString());
            Assert.Equal(2, CliRunner.Run(root, ["synth", "--arch", "deepseek2", "--preset", "tiny", "--out", path, "--groups", "3"], error));
            Assert.Equal(2, CliRunner.Run(root, ["synth", "--arch", "llama", "--preset", "v2lite", "--out", path], error));
            Assert.Equal(2, CliRunner.Run(root, ["synth", "--arch", "llama", "--preset", "tiny", "--out", path, "--type", "q2_k"], error));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
