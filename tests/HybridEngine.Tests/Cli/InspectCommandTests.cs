using System.CommandLine;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Gguf;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Cli;

/// <summary><c>hybrid inspect</c> run in-process: totals must equal what the files hold, bad input exits 2 with one line.</summary>
public class InspectCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(InspectCommand.Create(stdout));
        int code = CliRunner.Run(root, args, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static JsonElement RunJson(string path)
    {
        var (code, stdout, stderr) = Run("inspect", "-m", path, "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        // JsonDocument.Parse refuses trailing content, so this also checks "exactly one document".
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    public static TheoryData<string, string> SynthArchitecturesAndTypes()
    {
        var data = new TheoryData<string, string>();
        foreach (string arch in new[] { "deepseek2", "qwen3moe", "mixtral", "llama" })
        {
            foreach (string type in new[] { "f32", "f16", "q8_0", "q4_k" }) data.Add(arch, type);
        }
        return data;
    }

    /// <summary>
    /// Files from <c>hybrid synth</c>: inspect's tensor count and bytes equal the file's, with each tensor's size
    /// computed by ggml's own <c>ggml_row_size</c> rather than by our quant table.
    /// </summary>
    [Theory]
    [MemberData(nameof(SynthArchitecturesAndTypes))]
    public void SynthFilesReportTheirOwnTensorCountAndBytes(string arch, string type)
    {
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "model.gguf");
            var synth = new RootCommand("test");
            synth.Subcommands.Add(SynthCommand.Create());
            Assert.Equal(0, CliRunner.Run(synth, ["synth", "--arch", arch, "--preset", "tiny", "--type", type, "--out", path], new StringWriter()));

            using var file = GgufFile.Open(path);
            long expected = file.Tensors.Sum(t => Reference.GgmlReference.RowSize((int)t.Type, t.Shape[0]) * t.Shape.Skip(1).Aggregate(1L, (a, b) => a * b));
            var json = RunJson(path);
            Assert.Equal(file.Tensors.Count, json.GetProperty("tensorCount").GetInt32());
            Assert.Equal(expected, json.GetProperty("totalBytes").GetInt64());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("stories260K.gguf", 0)]
    [InlineData("moe/stories260K-moe4top2-perm.gguf", 4)]
    [InlineData("moe/stories260K-moe4top2-scaled.gguf", 4)]
    public void SharedFilesReportTheirTensorsAndBytes(string relative, int experts)
    {
        string path = TestPaths.Data(relative);
        var json = RunJson(path);
        using var file = GgufFile.Open(path);

        // Every tensor of these files is F32 (MANIFEST.md): 4 bytes per element, computed from the shapes.
        long expectedBytes = file.Tensors.Sum(t => 4 * t.Shape.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(file.Tensors.Count, json.GetProperty("tensorCount").GetInt32());
        Assert.Equal(expectedBytes, json.GetProperty("totalBytes").GetInt64());
        Assert.Equal("llama", json.GetProperty("architecture").GetString());
        Assert.Equal(5, json.GetProperty("hyperParameters").GetProperty("block_count").GetInt32());
        Assert.Equal(64, json.GetProperty("hyperParameters").GetProperty("embedding_length").GetInt32());
        Assert.Equal(512, json.GetProperty("tokenizer").GetProperty("vocabSize").GetInt64());
        Assert.Equal("llama", json.GetProperty("tokenizer").GetProperty("model").GetString());
        if (experts > 0) Assert.Equal(experts, json.GetProperty("hyperParameters").GetProperty("expert_count").GetInt32());

        var classes = json.GetProperty("classes").EnumerateArray().ToDictionary(c => c.GetProperty("class").GetString()!);
        Assert.Equal(expectedBytes, classes.Values.Sum(c => c.GetProperty("bytes").GetInt64()));
        Assert.Equal(file.Tensors.Count, classes.Values.Sum(c => c.GetProperty("tensors").GetInt32()));
        Assert.Equal(1, classes["embeddings"].GetProperty("tensors").GetInt32());
        Assert.Equal(20, classes["attention"].GetProperty("tensors").GetInt32()); // q, k, v, output × 5 layers
        Assert.Equal(experts > 0 ? 0 : 15, classes["dense_ffn"].GetProperty("tensors").GetInt32());
        Assert.Equal(experts > 0 ? 15 : 0, classes["routed_experts"].GetProperty("tensors").GetInt32());
        Assert.Equal(experts > 0 ? 5 : 0, classes["router"].GetProperty("tensors").GetInt32());

        var types = json.GetProperty("quantTypes").EnumerateArray().ToArray();
        var f32 = Assert.Single(types);
        Assert.Equal("f32", f32.GetProperty("type").GetString());
        Assert.Equal(expectedBytes, f32.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public void WriterMadeFilesReportBytesPerQuantType()
    {
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "mixed.gguf");
            var writer = new GgufWriter(64);
            writer.Add("general.architecture", GgufValue.String("deepseek2"));
            writer.Add("deepseek2.block_count", GgufValue.UInt32(1));
            writer.Add("deepseek2.attention.kv_lora_rank", GgufValue.UInt32(16));
            writer.Add("deepseek2.rope.freq_base", GgufValue.Float32(float.NaN)); // JSON has no NaN: must still be one document
            var tensors = new (string Name, GgmlType Type, long[] Shape, int Bytes)[]
            {
                ("token_embd.weight", GgmlType.Q8_0, [64, 10], 10 * 2 * 34),
                ("blk.0.attn_q_a.weight", GgmlType.Q4_K, [256, 4], 4 * 144),
                ("blk.0.ffn_gate_exps.weight", GgmlType.Q4_K, [256, 2, 4], 8 * 144),
                ("blk.0.ffn_down_shexp.weight", GgmlType.Q6_K, [256, 3], 3 * 210),
                ("blk.0.ffn_gate_inp.weight", GgmlType.F32, [64, 4], 64 * 4 * 4),
                ("output_norm.weight", GgmlType.F32, [64], 256),
            };
            foreach (var t in tensors) writer.AddTensor(t.Name, t.Type, t.Shape, new byte[t.Bytes]);
            writer.WriteTo(path);

            var json = RunJson(path);
            Assert.Equal(tensors.Length, json.GetProperty("tensorCount").GetInt32());
            Assert.Equal(tensors.Sum(t => (long)t.Bytes), json.GetProperty("totalBytes").GetInt64());
            Assert.Equal(16, json.GetProperty("hyperParameters").GetProperty("attention.kv_lora_rank").GetInt32());
            var types = json.GetProperty("quantTypes").EnumerateArray().ToDictionary(t => t.GetProperty("type").GetString()!);
            Assert.Equal(12 * 144, types["q4_K"].GetProperty("bytes").GetInt64());
            Assert.Equal(2, types["q4_K"].GetProperty("tensors").GetInt32());
            Assert.Equal(2, types["f32"].GetProperty("tensors").GetInt32());
            var classes = json.GetProperty("classes").EnumerateArray().ToDictionary(c => c.GetProperty("class").GetString()!);
            Assert.Equal(8 * 144, classes["routed_experts"].GetProperty("bytes").GetInt64());
            Assert.Equal(3 * 210, classes["shared_experts"].GetProperty("bytes").GetInt64());
            Assert.Equal(64 * 16, classes["router"].GetProperty("bytes").GetInt64());

            var (code, text, _) = Run("inspect", "-m", path);
            Assert.Equal(0, code);
            Assert.Contains("deepseek2", text);
            Assert.Matches(@"(?m)^tensors\s+6$", text);
            Assert.Matches(@"(?m)^routed_experts\s+1\s+1152\b", text);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TextOutputNamesArchitectureAndCounts()
    {
        var (code, text, err) = Run("inspect", "-m", TestPaths.Data("stories260K.gguf"));
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^architecture\s+llama$", text);
        Assert.Matches(@"(?m)^tokenizer\s+llama, 512 tokens$", text);
        Assert.Matches(@"(?m)^\s+block_count\s+5$", text);
    }

    [Fact]
    public void DamagedHeadersNeverBreakTheReport()
    {
        // Files the reader accepts may still carry odd values (NaN floats, wrong-typed keys); the report either
        // renders one JSON document or refuses with a format error, never anything else.
        byte[] original = Gguf.RawGguf.Small().Build().Bytes;
        var rng = new Random(5);
        int rendered = 0;
        for (int i = 0; i < 500; i++)
        {
            byte[] bytes = (byte[])original.Clone();
            for (int e = 0; e < 2; e++) bytes[rng.Next(260)] = (byte)rng.Next(256);
            try
            {
                using var file = GgufFile.Parse(bytes, "fuzz.gguf");
                using var doc = JsonDocument.Parse(InspectReport.From(file).ToJson().ToJsonString());
                rendered++;
            }
            catch (GgufFormatException)
            {
            }
        }
        Assert.True(rendered > 0, "no mutation was accepted, so the report was never exercised");
    }

    [Fact]
    public void BadInputExitsWithCode2AndOneLine()
    {
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string text = Path.Combine(dir, "notes.gguf");
            File.WriteAllText(text, "these are not weights\n");
            string damaged = Path.Combine(dir, "damaged.gguf");
            byte[] stories = File.ReadAllBytes(TestPaths.Data("stories260K.gguf"));
            File.WriteAllBytes(damaged, stories[..(stories.Length / 2)]);
            string empty = Path.Combine(dir, "empty.gguf");
            File.WriteAllBytes(empty, []);

            foreach (var (path, fragment) in new[]
            {
                (Path.Combine(dir, "missing.gguf"), "missing.gguf"),
                (text, "magic"),
                (damaged, "damaged.gguf"),
                (empty, "empty"),
                (TestPaths.Data("legacy/tinyllamas-stories-260k-f32.v1.gguf"), "obsolete"),
            })
            {
                var (code, stdout, stderr) = Run("inspect", "-m", path, "--json");
                Assert.Equal(2, code);
                Assert.Equal("", stdout);
                string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.StartsWith("error: ", line);
                Assert.Contains(fragment, line);
            }

            var (missingOption, _, usage) = Run("inspect");
            Assert.Equal(2, missingOption);
            Assert.Contains("--model", usage);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
