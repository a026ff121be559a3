using System.Text;
using HybridEngine.Server;
using Xunit;

namespace HybridEngine.Tests.Server;

/// <summary>Stop sequences found across token boundaries; text held back only while it could start one.</summary>
public sealed class StopMatcherTests
{
    /// <summary>Feeds the pieces one at a time as the server does; returns what was sent and whether a stop was hit.</summary>
    private static (string Sent, bool Hit, List<string> Chunks) Feed(string[] stops, params string[] pieces)
    {
        var matcher = new StopMatcher(stops);
        var text = new StringBuilder();
        var chunks = new List<string>();
        int emitted = 0;
        foreach (var piece in pieces)
        {
            text.Append(piece);
            var (end, hit) = matcher.Scan(text, emitted);
            if (end > emitted) chunks.Add(text.ToString(emitted, end - emitted));
            emitted = end;
            if (hit) return (string.Concat(chunks), true, chunks);
        }
        if (emitted < text.Length) chunks.Add(text.ToString(emitted, text.Length - emitted));
        return (string.Concat(chunks), false, chunks);
    }

    [Fact]
    public void StopSpanningTokensCutsBeforeIt()
    {
        var (sent, hit, chunks) = Feed(["o w"], "hel", "lo", " wo", "rld");
        Assert.True(hit);
        Assert.Equal("hell", sent);
        // "hel" is safe at once; "lo" could start "o w", so only "l" goes out until " wo" decides.
        Assert.Equal(["hel", "l"], chunks);
    }

    [Fact]
    public void HeldBackPrefixIsSentWhenNoStopFollows()
    {
        var (sent, hit, chunks) = Feed(["END"], "abc E", "N", "d more");
        Assert.False(hit);
        Assert.Equal("abc ENd more", sent);
        Assert.Equal(["abc ", "ENd more"], chunks);
    }

    [Fact]
    public void EarliestOfSeveralStopsWins()
    {
        var (sent, hit, _) = Feed(["zz", "b"], "aab zz");
        Assert.True(hit);
        Assert.Equal("aa", sent);
    }

    [Fact]
    public void NoStopsSendsEverythingAtOnce()
    {
        var (sent, hit, chunks) = Feed([], "one", " two");
        Assert.False(hit);
        Assert.Equal("one two", sent);
        Assert.Equal(["one", " two"], chunks);
    }
}
