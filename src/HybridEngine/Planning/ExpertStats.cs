using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HybridEngine.Planning;

/// <summary>How often each expert of one MoE layer was routed to (or a prior weight in the same units).</summary>
public sealed record LayerExpertCounts(int Layer, ImmutableArray<double> Counts);

/// <summary>
/// Routing counts per layer and expert. <see cref="Source"/> says what they are: <c>calibration</c> (written by
/// <c>hybrid calibrate</c>), <c>runtime</c> (counts kept by earlier runs) or <c>router_bias</c> (a prior from the
/// router's selection bias, no tokens seen). The planner ranks experts by these counts; only their ratios within a
/// layer matter.
/// </summary>
/// <param name="Tokens">Tokens the counts were gathered over (0 for a prior).</param>
public sealed record ExpertStats(string Source, string Model, long Tokens, ImmutableArray<LayerExpertCounts> Layers)
{
    public const string Format = "hybrid-expert-stats";
    public const int Version = 1;
    public const string CalibrationSource = "calibration", RuntimeSource = "runtime", RouterBiasSource = "router_bias";

    /// <summary>True for counts measured on real tokens; a prior only orders experts, it does not justify pinning them.</summary>
    public bool IsMeasured => Source is CalibrationSource or RuntimeSource;

    /// <summary>The stats file written next to a model: <c>model.gguf</c> → <c>model.expert-stats.json</c>.</summary>
    public static string DefaultPath(string modelPath) => Path.ChangeExtension(modelPath, ".expert-stats.json");

    /// <summary>The first mismatch with the model as one sentence, or null: every MoE layer once, experts per layer, counts ≥ 0.</summary>
    public string? Validate(ModelInventory inventory)
    {
        var expected = inventory.MoeLayers.Select(l => l.Layer).ToArray();
        var given = Layers.Select(l => l.Layer).ToArray();
        if (!expected.SequenceEqual(given))
            return $"expert stats cover layers [{string.Join(",", given)}] but the model's MoE layers are [{string.Join(",", expected)}]";
        int experts = inventory.HyperParameters.Experts;
        foreach (var layer in Layers)
        {
            if (layer.Counts.Length != experts)
                return $"expert stats for layer {layer.Layer} have {layer.Counts.Length} counts but the model has {experts} experts";
            if (layer.Counts.Any(c => !(c >= 0) || double.IsInfinity(c)))
                return $"expert stats for layer {layer.Layer} hold a negative or non-finite count";
        }
        if (Tokens < 0) return "expert stats have a negative token count";
        return null;
    }

    /// <summary>Pseudo-count added to every expert's measured count (Laplace's rule of succession).</summary>
    public const double MeasuredPseudoCount = 1;

    /// <summary>
    /// Per-expert share of the routings of <c>Layers[layerIndex]</c> (sums to 1; uniform when the layer has no counts).
    /// Measured counts get <see cref="MeasuredPseudoCount"/> each, (c + 1) / (total + n): an expert a short calibration
    /// never saw may still be routed to, and a share of exactly 0 would promise the plan it never is.
    /// </summary>
    public double[] Shares(int layerIndex)
    {
        var counts = Layers[layerIndex].Counts;
        double add = IsMeasured ? MeasuredPseudoCount : 0;
        double total = counts.Sum() + add * counts.Length;
        return total > 0 ? counts.Select(c => (c + add) / total).ToArray() : Enumerable.Repeat(1.0 / counts.Length, counts.Length).ToArray();
    }

    /// <summary>
    /// A prior from the router's selection bias (deepseek2's <c>exp_probs_b</c>): weight ∝ exp(bias). The bias is added
    /// to the scores before top-k, so a higher bias means an expert is picked more often at equal scores; a model
    /// trained with bias balancing is close to uniform, which this prior then also is.
    /// </summary>
    public static ExpertStats FromRouterBias(string model, IReadOnlyList<(int Layer, float[] Bias)> layers) =>
        new(RouterBiasSource, model, 0, layers.Select(l =>
        {
            double max = l.Bias.Length == 0 ? 0 : l.Bias.Max();
            return new LayerExpertCounts(l.Layer, l.Bias.Select(b => Math.Exp(b - max)).ToImmutableArray());
        }).ToImmutableArray());

    public string ToJson()
    {
        var layers = new JsonArray();
        foreach (var l in Layers)
            layers.Add(new JsonObject { ["layer"] = l.Layer, ["counts"] = new JsonArray(l.Counts.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()) });
        var root = new JsonObject
        {
            ["format"] = Format,
            ["version"] = Version,
            ["source"] = Source,
            ["model"] = Model,
            ["tokens"] = Tokens,
            ["layers"] = layers,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Parses a stats document; a malformed one throws <see cref="FormatException"/> naming the source and field.</summary>
    public static ExpertStats Parse(string json, string source)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException ex) { throw new FormatException($"expert stats '{source}' is not JSON: {ex.Message}"); }
        if (root is not JsonObject o) throw new FormatException($"expert stats '{source}' is not a JSON object");
        try
        {
            if ((string?)o["format"] != Format) throw new FormatException($"expert stats '{source}' has format '{(string?)o["format"]}', not '{Format}'");
            if ((int?)o["version"] != Version) throw new FormatException($"expert stats '{source}' has version {o["version"]?.ToJsonString() ?? "null"}, not {Version}");
            var layers = (o["layers"] as JsonArray ?? throw new FormatException($"expert stats '{source}' has no 'layers' array"))
                .Select((node, i) => new LayerExpertCounts(
                    (int?)node?["layer"] ?? throw new FormatException($"expert stats '{source}' layers[{i}] has no 'layer'"),
                    (node!["counts"] as JsonArray ?? throw new FormatException($"expert stats '{source}' layers[{i}] has no 'counts' array"))
                        .Select(c => (double?)c ?? throw new FormatException($"expert stats '{source}' layers[{i}] has a null count")).ToImmutableArray()))
                .ToImmutableArray();
            return new ExpertStats((string?)o["source"] ?? CalibrationSource, (string?)o["model"] ?? "", (long?)o["tokens"] ?? 0, layers);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            throw new FormatException($"expert stats '{source}' has a field of the wrong type: {ex.Message}");
        }
    }

    public static ExpertStats Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Writes to a temporary file then renames, so a reader never sees half a file.</summary>
    public void Save(string path)
    {
        string temp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(temp, ToJson());
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Loads and validates against the model; a mismatch throws <see cref="FormatException"/> with the reason.</summary>
    public static ExpertStats LoadFor(string path, ModelInventory inventory)
    {
        var stats = Load(path);
        return stats.Validate(inventory) is { } problem ? throw new FormatException($"{path}: {problem}") : stats;
    }
}
