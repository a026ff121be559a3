using HybridEngine.Gguf;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Runtime;

/// <summary>
/// A file the runtime cannot run fails at load with one sentence naming the culprit: each case rewrites the
/// TinyStories model with a single defect and checks the message names it.
/// </summary>
public sealed class ModelLoadErrorTests : IDisposable
{
    private readonly string _dir = TestPaths.NewScratchDirectory();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void UnknownArchitectureListsTheSupportedOnes()
    {
        string path = Rewrite("arch.gguf", keys: k => k == "general.architecture" ? GgufValue.String("gpt-j") : null);
        var e = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(path));
        Assert.Contains("'gpt-j'", e.Message);
        Assert.Contains("supported: ", e.Message);
        Assert.Contains("llama", e.Message);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        string path = Rewrite("missing.gguf", skip: "blk.3.ffn_up.weight");
        var e = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(path));
        Assert.Contains("'blk.3.ffn_up.weight' is missing", e.Message);
    }

    [Fact]
    public void WrongShapeIsNamedWithBothShapes()
    {
        // {64, 32} → {32, 64}: same bytes, so only the shape check can catch it.
        string path = Rewrite("shape.gguf", shape: ("blk.1.attn_k.weight", [32, 64]));
        var e = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(path));
        Assert.Contains("'blk.1.attn_k.weight'", e.Message);
        Assert.Contains("{32, 64}", e.Message);
        Assert.Contains("expected {64, 32}", e.Message);
    }

    [Fact]
    public void QuantTypeWithoutKernelIsNamed()
    {
        // q8_1 is an activation format: it has a block layout but no weight dot kernel.
        string path = Rewrite("type.gguf", retype: ("blk.2.attn_q.weight", GgmlType.Q8_1));
        var e = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(path));
        Assert.Contains("'blk.2.attn_q.weight'", e.Message);
        Assert.Contains("q8_1", e.Message);
        Assert.Contains("supported: ", e.Message);
    }

    [Fact]
    public void MissingHyperParameterIsNamed()
    {
        string path = Rewrite("key.gguf", dropKey: "llama.attention.layer_norm_rms_epsilon");
        var e = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(path));
        Assert.Contains("'llama.attention.layer_norm_rms_epsilon' is missing", e.Message);
    }

    [Fact]
    public void TensorTheArchitectureDoesNotUseIsNamed()
    {
        string path = Rewrite("extra.gguf", extra: "blk.0.ffn_gate_shexp.weight");
        var e = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(path));
        Assert.Contains("blk.0.ffn_gate_shexp.weight", e.Message);
        Assert.Contains("does not use", e.Message);
    }

    [Fact]
    public void PromptLongerThanTheContextIsRefused()
    {
        using var model = LoadedModel.Load(TestPaths.Data("stories260K.gguf"));
        using var executor = model.CreateExecutor(new ExecutorOptions(Context: 16, BatchSize: 8, Threads: 1));
        var logits = new float[executor.Vocab];
        var e = Assert.Throws<ContextOverflowException>(() => executor.Forward(new int[17], 0, logits, allLogits: false));
        Assert.Contains("context holds 16", e.Message);
        executor.Forward(new int[10], 0, logits, allLogits: false);
        Assert.Throws<ContextOverflowException>(() => executor.Forward(new int[7], 10, logits, allLogits: false));
        executor.Forward(new int[6], 10, logits, allLogits: false);
    }

    private string Rewrite(string name, Func<string, GgufValue?>? keys = null, string? skip = null, string? dropKey = null,
        (string Name, long[] Shape)? shape = null, (string Name, GgmlType Type)? retype = null, string? extra = null)
    {
        using var source = GgufFile.Open(TestPaths.Data("stories260K.gguf"));
        var writer = new GgufWriter(source.Alignment);
        foreach (string key in source.Keys)
        {
            if (key == dropKey || key == "general.alignment") continue;
            writer.Add(key, keys?.Invoke(key) ?? source.Metadata[key]);
        }
        foreach (var t in source.Tensors)
        {
            if (t.Name == skip) continue;
            long[] dims = shape is { } s && s.Name == t.Name ? s.Shape : t.Shape;
            byte[] data = source.GetTensorData(t).ToArray();
            var type = t.Type;
            if (retype is { } r && r.Name == t.Name)
            {
                var floats = new float[t.ElementCount];
                QuantTypes.Get(t.Type).Dequantize!(data, floats);
                type = r.Type;
                data = new byte[GgufWriter.TensorBytes(type, dims)];
                QuantTypes.Get(type).Quantize!(floats, data);
            }
            writer.AddTensor(t.Name, type, dims, data);
        }
        if (extra != null) writer.AddTensor(extra, GgmlType.F32, [64, 64], new byte[64 * 64 * 4]);
        string path = Path.Combine(_dir, name);
        writer.WriteTo(path);
        return path;
    }
}
