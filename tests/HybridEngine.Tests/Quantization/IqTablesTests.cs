using System.Numerics;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>The embedded IQ tables against their sizes and the facts SPEC 2.2 / 2.8 states about them.</summary>
public class IqTablesTests
{
    [Fact]
    public void TablesHaveGgmlSizes()
    {
        Assert.Equal(2048, IqTables.Iq1sGrid.Length);
        Assert.Equal(256, IqTables.Iq2xxsGrid.Length);
        Assert.Equal(512, IqTables.Iq2xsGrid.Length);
        Assert.Equal(1024, IqTables.Iq2sGrid.Length);
        Assert.Equal(256, IqTables.Iq3xxsGrid.Length);
        Assert.Equal(512, IqTables.Iq3sGrid.Length);
        Assert.Equal(128, IqTables.KsignsIq2xs.Length);
        Assert.Equal(8, IqTables.KmaskIq2xs.Length);
        Assert.Equal(16, IqTables.KvaluesIq4nl.Length);
    }

    [Fact]
    public void Iq4nlLevelsMatchSpec()
    {
        sbyte[] spec = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
        Assert.Equal(spec, IqTables.KvaluesIq4nl.ToArray());
    }

    [Fact]
    public void Iq2xxsGridBytesAreOnly8_25_43()
    {
        var seen = new HashSet<byte>();
        foreach (ulong entry in IqTables.Iq2xxsGrid) seen.UnionWith(BitConverter.GetBytes(entry));
        Assert.Equal(new byte[] { 8, 25, 43 }, seen.Order().ToArray());
    }

    [Fact]
    public void Iq1sGridValuesAreMinusOneZeroOne()
    {
        var seen = new HashSet<sbyte>();
        foreach (ulong entry in IqTables.Iq1sGrid)
        {
            foreach (byte b in BitConverter.GetBytes(entry)) seen.Add((sbyte)b);
        }
        Assert.Equal(new sbyte[] { -1, 0, 1 }, seen.Order().ToArray());
    }

    [Fact]
    public void KsignsAreIndexPlusEvenParityBit()
    {
        for (int i = 0; i < 128; i++)
        {
            byte s = IqTables.KsignsIq2xs[i];
            Assert.Equal(i, s & 127);
            Assert.Equal(0, BitOperations.PopCount(s) % 2);
        }
    }

    [Fact]
    public void GridEntriesAreDistinct()
    {
        // A grid maps an index to a pattern; a repeated pattern would waste a code and signals a mis-read table.
        Assert.Equal(2048, new HashSet<ulong>(IqTables.Iq1sGrid.ToArray()).Count);
        Assert.Equal(256, new HashSet<ulong>(IqTables.Iq2xxsGrid.ToArray()).Count);
        Assert.Equal(512, new HashSet<ulong>(IqTables.Iq2xsGrid.ToArray()).Count);
        Assert.Equal(1024, new HashSet<ulong>(IqTables.Iq2sGrid.ToArray()).Count);
        Assert.Equal(256, new HashSet<uint>(IqTables.Iq3xxsGrid.ToArray()).Count);
        Assert.Equal(512, new HashSet<uint>(IqTables.Iq3sGrid.ToArray()).Count);
    }
}
