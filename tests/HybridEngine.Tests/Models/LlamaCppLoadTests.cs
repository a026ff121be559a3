using System.Text;
using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
using LLama;
using LLama.Common;
using LLama.Native;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Models;

/// <summary>
/// llama.cpp (through LLamaSharp) is the oracle for synthetic files: it checks every key's exact type, the exact
/// tensor set and shapes, and the vocabulary. Each tiny file is loaded, its reported sizes compared with the spec,
/// and a short prompt decoded to finite, non-degenerate logits.
/// </summary>
public sealed class LlamaCppLoadTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, string, int> Cases()
    {
        var data = new TheoryData<string, string, string, int>();
        foreach (string type in new[] { "f32", "f16", "q8_0", "q4_k" })
        {
            foreach (string arch in new[] { "deepseek2", "qwen3moe", "mixtral", "llama" }) data.Add(arch, type, "k_b_v_b", 0);
            data.Add("deepseek2", type, "kv_b", 0);
            data.Add("deepseek2", type, "k_b_v_b", 4);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TinyModelLoadsAndDecodes(string arch, string type, string layout, int groups)
    {
        var spec = SyntheticModels.Spec(arch, "tiny");
        var options = new SyntheticOptions(SyntheticModels.ParseType(type), Seed: 11, Skew: arch == "llama" ? 0f : 0.5f, Groups: groups,
            Layout: layout == "kv_b" ? MlaLayout.KvB : MlaLayout.KbVb);
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "model.gguf");
            SyntheticWriter.Write(spec, options, path);
            var vocab = SyntheticModels.Architecture(arch).Vocab(spec);

            using var weights = LlamaCpp.Load(path, output);
            Assert.Equal(vocab.Count, weights.Vocab.Count);
            Assert.Equal(spec.Hidden, weights.EmbeddingSize);
            Assert.Equal(spec.Layers, weights.NativeHandle.LayerCount);
            Assert.Equal(spec.Heads, weights.NativeHandle.HeadCount);
            Assert.Equal(SyntheticModels.FileType(options.Type), (uint)weights.NativeHandle.FileType);
            Assert.Equal(SyntheticModels.Architecture(arch).GgufArchitecture, weights.Metadata["general.architecture"]);
            if (spec.IsMoe) Assert.Equal(spec.Experts.ToString(), weights.Metadata[$"{SyntheticModels.Architecture(arch).GgufArchitecture}.expert_count"]);

            float[] logits = LlamaCpp.LastLogits(weights, path, [(int)vocab.Bos, 5, 77, 120, 200]);
            Assert.Equal(vocab.Count, logits.Length);
            Assert.All(logits, v => Assert.True(float.IsFinite(v)));
            // Random weights at unit-variance scale give logits of spread ~1; a spread under 0.05 would mean the
            // model collapsed (all-equal logits), which makes later logit comparisons meaningless.
            double mean = logits.Average();
            double std = Math.Sqrt(logits.Average(v => (v - mean) * (v - mean)));
            output.WriteLine($"{arch} {type} {layout} groups={groups}: logit std {std:F3}");
            Assert.InRange(std, 0.05, 100);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// LLamaSharp picks a native build (noavx/avx/avx2/avx512) for this CPU; the one it loaded must run here and
    /// use AVX2 when the CPU has it (otherwise the oracle would be needlessly slow or the wrong build was taken).
    /// </summary>
    [Fact]
    public void NativeLibrarySelectionFitsThisCpu()
    {
        LlamaCpp.EnsureLoaded();
        string info = System.Runtime.InteropServices.Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info()) ?? "";
        output.WriteLine(info);
        Assert.Contains("CPU", info);
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) Assert.Contains("AVX2 = 1", info);
    }

    /// <summary>
    /// The MLA split (attn_k_b/attn_v_b) is derived from the same attn_kv_b values as the legacy layout, so both
    /// files are the same model and llama.cpp's two attention paths must give the same logits. Tolerance: F32
    /// weights, F32 KV cache, no flash attention (which rounds through F16), so only summation order differs
    /// between the two graphs → 1e-5 of the spread (seen: about 3e-7).
    /// </summary>
    [Fact]
    public void BothDeepseekLayoutsGiveTheSameLogits()
    {
        var spec = SyntheticModels.Spec("deepseek2", "tiny");
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            float[][] results = new float[2][];
            int[] tokens = [0, 9, 33, 150, 210, 7];
            foreach (var (layout, i) in new[] { (MlaLayout.KbVb, 0), (MlaLayout.KvB, 1) })
            {
                string path = Path.Combine(dir, $"{layout}.gguf");
                SyntheticWriter.Write(spec, new SyntheticOptions(GgmlType.F32, Seed: 3, Layout: layout), path);
                using var weights = LlamaCpp.Load(path, output);
                results[i] = LlamaCpp.LastLogits(weights, path, tokens, f32Cache: true);
            }
            double spread = results[0].Max() - results[0].Min();
            double worst = results[0].Zip(results[1], (a, b) => Math.Abs(a - b)).Max();
            output.WriteLine($"logit spread {spread:F3}, largest difference {worst:E2}");
            Assert.True(worst <= 1e-5 * spread, $"layouts differ by {worst} (spread {spread})");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// V2-Lite's layout (27 layers → llama.cpp's "lite": attn_q instead of q LoRA; softmax gating, no
    /// exp_probs_b, YaRN log multiplier 0.0707) at tiny widths, so the v2lite preset's tensor set and keys are
    /// checked by llama.cpp without writing 9 GB.
    /// </summary>
    [Theory]
    [InlineData(MlaLayout.KbVb)]
    [InlineData(MlaLayout.KvB)]
    public void LiteLayoutLoadsAndDecodes(MlaLayout layout)
    {
        var spec = SyntheticModels.Spec("deepseek2", "v2lite") with
        {
            Hidden = 64, Heads = 2, Ffn = 128, ExpertFfn = 32, Experts = 8, ExpertsUsed = 2,
            KvLoraRank = 64, NopeDim = 32, RopeDim = 16, ValueDim = 32, PaddedVocab = 0,
        };
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "lite.gguf");
            SyntheticWriter.Write(spec, new SyntheticOptions(GgmlType.F16, Seed: 2, Layout: layout), path);
            Assert.DoesNotContain(SyntheticWriter.Plan(spec, new SyntheticOptions(Layout: layout)), p => p.Tensor.Name.Contains("attn_q_a"));
            using var weights = LlamaCpp.Load(path, output);
            Assert.Equal(27, weights.NativeHandle.LayerCount);
            float[] logits = LlamaCpp.LastLogits(weights, path, [0, 40, 41, 42]);
            Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The synthetic vocabularies tokenize real text with merges (fewer tokens than bytes) in llama.cpp.</summary>
    [Theory]
    [InlineData("deepseek2")]
    [InlineData("qwen3moe")]
    [InlineData("llama")]
    public void VocabularyMergesInLlamaCpp(string arch)
    {
        var spec = SyntheticModels.Spec(arch, "tiny");
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "model.gguf");
            SyntheticWriter.Write(spec, new SyntheticOptions(GgmlType.F16), path);
            using var weights = LlamaCpp.Load(path, output);
            const string text = "hello world, the model and the expert";
            var tokens = weights.Tokenize(text, add_bos: false, special: false, Encoding.UTF8);
            output.WriteLine($"{arch}: {tokens.Length} tokens for {text.Length} bytes");
            Assert.InRange(tokens.Length, 1, text.Length / 2);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Loads GGUF files in llama.cpp through LLamaSharp, capturing its log so a failed load says why.</summary>
internal static class LlamaCpp
{
    private static readonly object Gate = new();
    private static readonly StringBuilder Log = new();
    private static bool _initialized;

    /// <summary>Loads the native library once (LLamaSharp selects the build for this CPU) and hooks its log.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_initialized) return;
            NativeLogConfig.llama_log_set((level, message) => { lock (Log) Log.Append(message); });
            NativeApi.llama_empty_call();
            _initialized = true;
        }
    }

    public static LLamaWeights Load(string path, ITestOutputHelper? output = null)
    {
        EnsureLoaded();
        lock (Gate)
        {
            lock (Log) Log.Clear();
            try
            {
                return LLamaWeights.LoadFromFile(new ModelParams(path) { ContextSize = 64, GpuLayerCount = 0, Threads = 2 });
            }
            catch (Exception e)
            {
                string log;
                lock (Log) log = Log.ToString();
                output?.WriteLine(log);
                throw new InvalidOperationException($"llama.cpp could not load {Path.GetFileName(path)}: {e.Message}\n{Tail(log)}", e);
            }
        }
    }

    /// <summary>Decodes <paramref name="tokens"/> at positions 0.. and returns the logits of the last one.</summary>
    /// <param name="f32Cache">Keep the KV cache in F32 (llama.cpp's default is F16) for tight comparisons.</param>
    public static float[] LastLogits(LLamaWeights weights, string path, int[] tokens, bool f32Cache = false)
    {
        lock (Gate)
        {
            var parameters = new ModelParams(path) { ContextSize = 64, BatchSize = 64, Threads = 2 };
            if (f32Cache)
            {
                parameters.TypeK = GGMLType.GGML_TYPE_F32;
                parameters.TypeV = GGMLType.GGML_TYPE_F32;
                parameters.FlashAttention = false;
            }
            using var context = weights.CreateContext(parameters);
            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Length; i++) batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, i == tokens.Length - 1);
            var result = context.NativeHandle.Decode(batch);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {result}\n{Tail(Log.ToString())}");
            return context.NativeHandle.GetLogitsIth(tokens.Length - 1).ToArray();
        }
    }

    private static string Tail(string log) => log.Length > 4000 ? log[^4000..] : log;
}
