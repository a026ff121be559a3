using HybridEngine.Runtime;
using Xunit;

namespace HybridEngine.Tests.Runtime;

/// <summary>The sampler's filters and its seed, checked on small hand-made distributions.</summary>
public sealed class SamplerTests
{
    [Fact]
    public void GreedyTakesTheArgmax()
    {
        var sampler = new Sampler(5, new SamplingOptions(Temperature: 0));
        Assert.Equal(3, sampler.Sample([0.1f, 2f, -1f, 2.5f, 2.4f]));
    }

    [Fact]
    public void TopKOneIsGreedyAtAnyTemperature()
    {
        var sampler = new Sampler(5, new SamplingOptions(Temperature: 5f, TopK: 1, TopP: 1f, MinP: 0f, Seed: 1));
        for (int i = 0; i < 50; i++) Assert.Equal(1, sampler.Sample([0f, 3f, 2.9f, 1f, 0.5f]));
    }

    /// <summary>p = softmax([ln 0.5, ln 0.3, ln 0.15, ln 0.05]): top-p 0.7 keeps two tokens, min-p 0.25 keeps three (0.15 ≥ 0.125).</summary>
    [Theory]
    [InlineData(0.7f, 0f, 2)]
    [InlineData(1f, 0.25f, 3)]
    [InlineData(1f, 0f, 4)]
    public void FiltersKeepTheExpectedTokens(float topP, float minP, int kept)
    {
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        var sampler = new Sampler(4, new SamplingOptions(Temperature: 1f, TopK: 0, TopP: topP, MinP: minP, Seed: 3));
        var seen = new HashSet<int>();
        for (int i = 0; i < 4000; i++) seen.Add(sampler.Sample(logits));
        Assert.Equal(Enumerable.Range(0, kept).ToHashSet(), seen);
    }

    /// <summary>At temperature 1 with no filters, frequencies follow the softmax (4000 draws: ±0.03 is over 4 standard deviations).</summary>
    [Fact]
    public void FrequenciesFollowTheDistribution()
    {
        float[] logits = [MathF.Log(0.6f), MathF.Log(0.3f), MathF.Log(0.1f)];
        var sampler = new Sampler(3, new SamplingOptions(Temperature: 1f, TopK: 0, TopP: 1f, MinP: 0f, Seed: 5));
        var counts = new int[3];
        for (int i = 0; i < 4000; i++) counts[sampler.Sample(logits)]++;
        Assert.InRange(counts[0] / 4000.0, 0.57, 0.63);
        Assert.InRange(counts[1] / 4000.0, 0.27, 0.33);
    }

    [Fact]
    public void SameSeedSameSequence()
    {
        float[] logits = Enumerable.Range(0, 50).Select(i => MathF.Sin(i)).ToArray();
        int[] Draw(int seed)
        {
            var s = new Sampler(50, new SamplingOptions(Temperature: 1.5f, TopK: 0, TopP: 1f, MinP: 0f, Seed: seed));
            return Enumerable.Range(0, 30).Select(_ => s.Sample(logits)).ToArray();
        }
        Assert.Equal(Draw(11), Draw(11));
        Assert.NotEqual(Draw(11), Draw(12));
    }
}
