using System.Collections.Immutable;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using Xunit;
using static HybridEngine.Tests.Planning.PlanningModels;

namespace HybridEngine.Tests.Planning;

/// <summary>The expert statistics file: round trip, validation against the model, malformed documents.</summary>
public sealed class ExpertStatsTests : IDisposable
{
    private static readonly ModelInventory Qwen = HeaderOnly(Qwen3_30B_A3B, GgmlType.Q4_K);
    private readonly string _dir = Directory.CreateTempSubdirectory("expert-stats-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SavedStatsLoadBackEqualAndValidate()
    {
        var stats = ZipfStats(Qwen, tokens: 12345);
        string path = Path.Combine(_dir, "m.expert-stats.json");
        stats.Save(path);
        var loaded = ExpertStats.LoadFor(path, Qwen);
        Assert.Equal(stats.Source, loaded.Source);
        Assert.Equal(stats.Tokens, loaded.Tokens);
        Assert.Equal(stats.Model, loaded.Model);
        Assert.Equal(stats.Layers.Select(l => l.Layer), loaded.Layers.Select(l => l.Layer));
        for (int i = 0; i < stats.Layers.Length; i++) Assert.Equal(stats.Layers[i].Counts.ToArray(), loaded.Layers[i].Counts.ToArray());
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void DefaultPathSitsNextToTheModel() =>
        Assert.Equal(Path.Combine("models", "v3.expert-stats.json"), ExpertStats.DefaultPath(Path.Combine("models", "v3.gguf")));

    [Fact]
    public void StatsThatDoNotMatchTheModelAreRejectedWithTheReason()
    {
        var good = ZipfStats(Qwen);
        Assert.Null(good.Validate(Qwen));

        var missingLayer = good with { Layers = good.Layers.RemoveAt(3) };
        Assert.Contains("MoE layers", missingLayer.Validate(Qwen));

        var shortLayer = good with { Layers = good.Layers.SetItem(0, good.Layers[0] with { Counts = good.Layers[0].Counts.RemoveAt(0) }) };
        Assert.Contains($"has {Qwen.HyperParameters.Experts} experts", shortLayer.Validate(Qwen));

        var negative = good with { Layers = good.Layers.SetItem(2, good.Layers[2] with { Counts = good.Layers[2].Counts.SetItem(5, -1) }) };
        Assert.Contains("layer 2", negative.Validate(Qwen));

        // The planner refuses mismatched stats rather than planning with them.
        Assert.Throws<ArgumentException>(() => Planner.Create(Qwen, MiniPc32(), new PlanOptions(), shortLayer));
    }

    [Theory]
    [InlineData("[]", "not a JSON object")]
    [InlineData("{\"format\":\"other\",\"version\":1,\"layers\":[]}", "format")]
    [InlineData("{\"format\":\"hybrid-expert-stats\",\"version\":2,\"layers\":[]}", "version")]
    [InlineData("{\"format\":\"hybrid-expert-stats\",\"version\":1}", "'layers'")]
    [InlineData("{\"format\":\"hybrid-expert-stats\",\"version\":1,\"layers\":[{\"layer\":0,\"counts\":[1,\"x\"]}]}", "wrong type")]
    [InlineData("{not json", "not JSON")]
    public void MalformedDocumentsNameTheProblem(string json, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => ExpertStats.Parse(json, "s.json"));
        Assert.Contains("s.json", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void RouterBiasPriorRanksExpertsByBias()
    {
        float[] bias = [0.5f, -1f, 2f, 0f];
        var prior = ExpertStats.FromRouterBias("m", [(1, bias)]);
        Assert.False(prior.IsMeasured);
        double[] shares = prior.Shares(0);
        // exp(bias) normalised: the ordering of the biases, and ratios e^(b_i − b_j).
        Assert.Equal(Math.Exp(2 - 0.5), shares[2] / shares[0], 9);
        Assert.Equal(1, shares.Sum(), 12);
        Assert.Equal([2, 0, 3, 1], shares.Select((s, i) => (s, i)).OrderByDescending(x => x.s).Select(x => x.i).ToArray());
    }
}
