using HybridEngine.Runtime;
using HybridEngine.Runtime.Streaming;
using Xunit;

namespace HybridEngine.Tests.Streaming;

/// <summary>Experts read into private buffers hold exactly the bytes the mapping shows, and only the ones asked for.</summary>
[Collection(StreamingCollection.Name)]
public sealed unsafe class PrivateExpertsTests(StreamingFixture f)
{
    [Fact]
    public void PrivateCopiesEqualTheMappedExpertsAndServeBeforeTheMapping()
    {
        using var loaded = LoadedModel.Load(f.Small);
        var store = loaded.Weights;
        var (layer, count) = store.ExpertLayers.First(l => l.Experts > 2);
        (int, int)[] wanted = [(layer, 0), (layer, count - 1)];
        using var own = PrivateExperts.Load(store, f.Small, wanted, readers: 3);
        Assert.Equal(2, own.Count);
        foreach (var (l, e) in wanted)
        {
            Assert.True(own.TryGet(l, e, out var copy));
            var mapped = store.MappedExpert(l, e);
            foreach (var (a, b) in new[] { (copy.Gate, mapped.Gate), (copy.Up, mapped.Up), (copy.Down, mapped.Down) })
            {
                Assert.Equal((b.Type, b.Rows, b.RowLength), (a.Type, a.Rows, a.RowLength));
                Assert.True(a.Data != b.Data, "the copy must not point into the mapping");
                Assert.True(new ReadOnlySpan<byte>(a.Data, (int)a.TotalBytes).SequenceEqual(new ReadOnlySpan<byte>(b.Data, (int)b.TotalBytes)));
            }
        }
        Assert.False(own.TryGet(layer, 1, out _));
        // The store serves a private expert from its copy, any other from the mapping.
        store.PrivateExperts = own;
        try
        {
            Assert.True(own.TryGet(layer, 0, out var copy0));
            Assert.True(store.GetExpert(layer, 0).Gate.Data == copy0.Gate.Data);
            Assert.True(store.GetExpert(layer, 1).Gate.Data == store.MappedExpert(layer, 1).Gate.Data);
        }
        finally { store.PrivateExperts = null; }
    }
}
