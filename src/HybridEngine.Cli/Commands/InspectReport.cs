using System.Globalization;
using System.Text.Json.Nodes;
using HybridEngine.Gguf;
using HybridEngine.Models;

namespace HybridEngine.Cli.Commands;

/// <summary>Tensor count and data bytes of one group (a tensor class or a quant type).</summary>
public sealed record TensorTally(string Name, int Tensors, long Bytes);

/// <summary>What <c>hybrid inspect</c> reports about a GGUF file, gathered from the validated header only.</summary>
public sealed record InspectReport(
    string File,
    uint Version,
    long FileBytes,
    uint Alignment,
    long DataOffset,
    string? Architecture,
    string? Name,
    IReadOnlyList<KeyValuePair<string, JsonNode?>> HyperParameters,
    string? TokenizerModel,
    long? VocabSize,
    int TensorCount,
    long TotalBytes,
    IReadOnlyList<TensorTally> Classes,
    IReadOnlyList<TensorTally> QuantTypes)
{
    /// <summary>Arrays longer than this (none are, for per-layer keys of real models) are summarised, not listed.</summary>
    private const int MaxListedArray = 256;

    public static InspectReport From(GgufFile file)
    {
        string? arch = file.Architecture;
        var hyper = new List<KeyValuePair<string, JsonNode?>>();
        if (arch != null)
        {
            string prefix = arch + ".";
            foreach (string key in file.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
            {
                hyper.Add(new(key[prefix.Length..], ToJson(file.Metadata[key])));
            }
        }

        file.TryGetString("general.name", out string? name);
        file.TryGetString("tokenizer.ggml.model", out string? tokenizer);
        long? vocab = null;
        if (file.Metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens.IsArray) vocab = tokens.ArrayLength;
        else if (arch != null && file.TryGetInteger(arch + ".vocab_size", out long declared)) vocab = declared;

        var classes = Enum.GetValues<TensorClass>()
            .Select(c => Tally(TensorClassifier.DisplayName(c), file.Tensors.Where(t => TensorClassifier.Classify(t.Name) == c)))
            .ToArray();
        var types = file.Tensors
            .GroupBy(t => t.Type)
            .OrderBy(g => (uint)g.Key)
            .Select(g => Tally(HybridEngine.Quantization.QuantTypes.Get(g.Key).Name, g))
            .ToArray();

        return new InspectReport(file.Path, file.Version, file.FileSize, file.Alignment, file.DataOffset, arch, name, hyper,
            tokenizer, vocab, file.Tensors.Count, file.TotalTensorBytes, classes, types);
    }

    public JsonObject ToJson()
    {
        var hyper = new JsonObject();
        foreach (var (key, value) in HyperParameters) hyper[key] = value?.DeepClone();
        return new JsonObject
        {
            ["file"] = File,
            ["version"] = Version,
            ["fileBytes"] = FileBytes,
            ["alignment"] = Alignment,
            ["dataOffset"] = DataOffset,
            ["architecture"] = Architecture,
            ["name"] = Name,
            ["hyperParameters"] = hyper,
            ["tokenizer"] = new JsonObject { ["model"] = TokenizerModel, ["vocabSize"] = VocabSize },
            ["tensorCount"] = TensorCount,
            ["totalBytes"] = TotalBytes,
            ["classes"] = TallyArray(Classes, "class"),
            ["quantTypes"] = TallyArray(QuantTypes, "type"),
        };
    }

    private static TensorTally Tally(string name, IEnumerable<GgufTensorInfo> tensors)
    {
        int count = 0;
        long bytes = 0;
        foreach (var t in tensors)
        {
            count++;
            bytes += t.ByteSize;
        }
        return new TensorTally(name, count, bytes);
    }

    private static JsonArray TallyArray(IEnumerable<TensorTally> tallies, string label) =>
        new(tallies.Select(t => (JsonNode)new JsonObject { [label] = t.Name, ["tensors"] = t.Tensors, ["bytes"] = t.Bytes }).ToArray());

    /// <summary>A metadata value as JSON. Non-finite floats become strings: JSON has no NaN.</summary>
    private static JsonNode? ToJson(GgufValue value)
    {
        if (value.Value is Array array)
        {
            if (array.Length > MaxListedArray) return JsonValue.Create($"[{GgufValueTypeName(value.ElementType)} x {array.Length}]");
            var list = new JsonArray();
            foreach (object? item in array) list.Add(Scalar(item));
            return list;
        }
        return Scalar(value.Value);
    }

    private static JsonNode? Scalar(object? value) => value switch
    {
        float f when !float.IsFinite(f) => JsonValue.Create(f.ToString(CultureInfo.InvariantCulture)),
        double d when !double.IsFinite(d) => JsonValue.Create(d.ToString(CultureInfo.InvariantCulture)),
        byte v => JsonValue.Create(v),
        sbyte v => JsonValue.Create(v),
        ushort v => JsonValue.Create(v),
        short v => JsonValue.Create(v),
        uint v => JsonValue.Create(v),
        int v => JsonValue.Create(v),
        ulong v => JsonValue.Create(v),
        long v => JsonValue.Create(v),
        float v => JsonValue.Create(v),
        double v => JsonValue.Create(v),
        bool v => JsonValue.Create(v),
        string v => JsonValue.Create(v),
        _ => null,
    };

    private static string GgufValueTypeName(GgufValueType type) => type.ToString().ToUpperInvariant();
}
