using System.Buffers.Binary;
using HybridEngine.Gguf;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Gguf;

/// <summary>
/// A corpus of damaged files built from <see cref="RawGguf.Small"/>: each must be refused with a
/// <see cref="GgufFormatException"/> (never another exception) whose one-line message names the file, the byte
/// offset of the field at fault and the key or tensor concerned.
/// </summary>
public class GgufDamagedFileTests
{
    private const string FileName = "damaged.gguf";

    /// <summary>Parses and asserts the refusal; returns the message.</summary>
    internal static string AssertRejected(byte[] bytes, params string[] fragments)
    {
        var ex = Record.Exception(() =>
        {
            using var file = GgufFile.Parse(bytes, FileName);
        });
        var format = Assert.IsType<GgufFormatException>(ex);
        Assert.Contains($"'{FileName}'", format.Message);
        Assert.DoesNotContain('\n', format.Message);
        foreach (string fragment in fragments) Assert.Contains(fragment, format.Message);
        return format.Message;
    }

    private static string At(long offset) => $"byte offset {offset}:";

    [Fact]
    public void TheUndamagedBaseFileIsAccepted()
    {
        var layout = RawGguf.Small().Build();
        using var file = GgufFile.Parse(layout.Bytes, FileName);
        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal(5, file.Metadata.Count);
        Assert.Equal(layout.DataOffset, file.DataOffset);
    }

    [Fact]
    public void TruncationAtEveryHeaderBoundaryNamesThatOffset()
    {
        var layout = RawGguf.Small().Build();
        foreach (long cut in layout.HeaderBoundaries.Where(b => b < layout.EndOfInfos))
        {
            // A cut at a field boundary leaves the next field with no bytes: the failure is reported where it starts,
            // unless the counts already promise more records than the remaining bytes can hold (checked up front).
            string message = AssertRejected(layout.Bytes[..(int)cut]);
            bool countsRefused = message.Contains("cannot fit") && (message.Contains(At(8)) || message.Contains(At(16)));
            Assert.True(message.Contains(At(cut)) || countsRefused, $"cut at {cut}: {message}");
        }
        // Once every metadata record is present, the counts fit and each cut is reported exactly where it is.
        foreach (long cut in layout.InfoStart.Append(layout.EndOfInfos).Where(b => b < layout.EndOfInfos))
        {
            AssertRejected(layout.Bytes[..(int)cut], At(cut), "ends inside");
        }
    }

    [Fact]
    public void TruncationInsideThePaddingIsReported()
    {
        var layout = RawGguf.Small().Build();
        Assert.True(layout.DataOffset > layout.EndOfInfos, "the base file must have padding before its data");
        for (long cut = layout.EndOfInfos; cut < layout.DataOffset; cut++)
        {
            AssertRejected(layout.Bytes[..(int)cut], "padding", $"starts at byte {layout.DataOffset}");
        }
    }

    [Fact]
    public void TruncationAtAnyByteIsRefusedUntilTheLastTensorIsComplete()
    {
        var raw = RawGguf.Small();
        var layout = raw.Build();
        long lastEnd = layout.DataStart[^1] + raw.Tensors[^1].Data.Length;
        for (int cut = 0; cut < layout.Bytes.Length; cut++)
        {
            byte[] bytes = layout.Bytes[..cut];
            if (cut >= lastEnd)
            {
                using var ok = GgufFile.Parse(bytes, FileName); // only trailing padding is missing
                continue;
            }
            string message = AssertRejected(bytes, "byte offset");
            if (cut >= layout.DataOffset)
            {
                // The tensor reported is the first one whose data the cut leaves incomplete.
                int culprit = Enumerable.Range(0, raw.Tensors.Count).First(i => layout.DataStart[i] + raw.Tensors[i].Data.Length > cut);
                Assert.Contains($"'{raw.Tensors[culprit].Name}'", message);
                Assert.Contains(At(layout.OffsetPos[culprit]), message);
            }
        }
    }

    [Fact]
    public void BadMagicIsNotAGgufFile()
    {
        byte[] bytes = RawGguf.Small().Build().Bytes;
        bytes[0] = (byte)'g';
        AssertRejected(bytes, At(0), "magic");
        AssertRejected("GGU"u8.ToArray(), At(0));
        AssertRejected([], At(0));
    }

    [Theory]
    [InlineData(0x03000000u, "big-endian")]
    [InlineData(0x02000000u, "big-endian")]
    [InlineData(1u, "obsolete")]
    [InlineData(0u, "version 0")]
    [InlineData(4u, "newer")]
    [InlineData(0xFFFFFFFFu, "newer")]
    public void UnsupportedVersionsAreRefusedWithTheReason(uint version, string reason)
    {
        var raw = RawGguf.Small();
        raw.Version = version;
        AssertRejected(raw.Build().Bytes, At(4), reason);
    }

    [Fact]
    public void Version2IsAccepted()
    {
        var raw = RawGguf.Small();
        raw.Version = 2;
        using var file = GgufFile.Parse(raw.Build().Bytes, FileName);
        Assert.Equal(2u, file.Version);
    }

    [Theory]
    [InlineData(1L << 62)]
    [InlineData(1L << 31)]
    [InlineData(long.MaxValue)]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    public void AbsurdTensorCountsAreRefusedBeforeAllocating(long count)
    {
        var raw = RawGguf.Small();
        raw.TensorCount = count;
        AssertRejected(raw.Build().Bytes, At(8), "tensor count");
    }

    [Theory]
    [InlineData(1L << 62)]
    [InlineData(1L << 31)]
    [InlineData(-5L)]
    [InlineData(1000L)]
    public void AbsurdMetadataCountsAreRefusedBeforeAllocating(long count)
    {
        var raw = RawGguf.Small();
        raw.KvCount = count;
        AssertRejected(raw.Build().Bytes, At(16), "metadata count");
    }

    [Theory]
    [InlineData(1UL << 62)]
    [InlineData(1UL << 31)]
    [InlineData(ulong.MaxValue)]
    public void AbsurdKeyLengthsAreRefused(ulong length)
    {
        var layout = RawGguf.Small().Build();
        long keyStart = layout.KvStart[2];
        BinaryPrimitives.WriteUInt64LittleEndian(layout.Bytes.AsSpan((int)keyStart), length);
        AssertRejected(layout.Bytes, At(keyStart), "metadata entry 2", length.ToString());
    }

    [Theory]
    [InlineData(1UL << 62)]
    [InlineData(1UL << 31)]
    public void AbsurdStringValueLengthsAreRefused(ulong length)
    {
        var layout = RawGguf.Small().Build();
        long valuePos = layout.KvValuePos[0]; // general.architecture, a STRING
        BinaryPrimitives.WriteUInt64LittleEndian(layout.Bytes.AsSpan((int)valuePos), length);
        AssertRejected(layout.Bytes, At(valuePos), "'general.architecture'");
    }

    [Theory]
    [InlineData(3, 1UL << 62)]
    [InlineData(3, 1UL << 31)]
    [InlineData(3, 1UL << 29)]
    [InlineData(4, 1UL << 62)]
    [InlineData(4, 1UL << 31)]
    [InlineData(4, 1UL << 20)]
    public void AbsurdArrayLengthsAreRefused(int kv, ulong count)
    {
        var raw = RawGguf.Small();
        var layout = raw.Build();
        long countPos = layout.KvValuePos[kv] + 4; // after the u32 element type
        BinaryPrimitives.WriteUInt64LittleEndian(layout.Bytes.AsSpan((int)countPos), count);
        string key = System.Text.Encoding.UTF8.GetString(raw.Kvs[kv].Key);
        AssertRejected(layout.Bytes, At(countPos), $"'{key}'");
    }

    [Theory]
    [InlineData(13u)]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0x80000004u)]
    public void UnknownValueTypesAreRefused(uint type)
    {
        var layout = RawGguf.Small().Build();
        long typePos = layout.KvTypePos[2];
        BinaryPrimitives.WriteUInt32LittleEndian(layout.Bytes.AsSpan((int)typePos), type);
        AssertRejected(layout.Bytes, At(typePos), "'llama.block_count'", $"type id {type}");
    }

    [Theory]
    [InlineData(13u, "unknown element type")]
    [InlineData(9u, "arrays")]
    public void BadArrayElementTypesAreRefused(uint elementType, string reason)
    {
        var layout = RawGguf.Small().Build();
        long elementTypePos = layout.KvValuePos[3];
        BinaryPrimitives.WriteUInt32LittleEndian(layout.Bytes.AsSpan((int)elementTypePos), elementType);
        AssertRejected(layout.Bytes, At(elementTypePos), "'test.f32s'", reason);
    }

    [Fact]
    public void DuplicateAndEmptyKeysAreRefused()
    {
        var raw = RawGguf.Small();
        raw.Kvs.Add(new RawKv("test.u8", RawGguf.TypeUInt8, RawGguf.U8(1)));
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.KvStart[^1]), "'test.u8'", "twice");

        raw = RawGguf.Small();
        raw.Kvs.Insert(1, new RawKv("", RawGguf.TypeUInt8, RawGguf.U8(1)));
        layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.KvStart[1]), "empty key");
    }

    [Fact]
    public void InvalidUtf8InKeysAndTensorNamesIsRefused()
    {
        var raw = RawGguf.Small();
        raw.Kvs.Insert(2, new RawKv(new byte[] { (byte)'k', 0xFF, 0xFE }, RawGguf.TypeUInt8, RawGguf.U8(1)));
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.KvStart[2] + 8), "UTF-8");
    }

    [Fact]
    public void DuplicateTensorNamesAreRefused()
    {
        var raw = RawGguf.Small();
        raw.Tensors[2] = raw.Tensors[2] with { Name = raw.Tensors[0].Name };
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.InfoStart[2]), $"'{raw.Tensors[0].Name}'", "twice");
    }

    [Fact]
    public void OverlongTensorNamesAreRefused()
    {
        var raw = RawGguf.Small();
        string name = new string('n', 64);
        raw.Tensors[1] = raw.Tensors[1] with { Name = name };
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.InfoStart[1]), name, "63");

        raw.Tensors[1] = raw.Tensors[1] with { Name = new string('n', 63) };
        using var ok = GgufFile.Parse(raw.Build().Bytes, FileName);
    }

    [Theory]
    [InlineData(5u)]
    [InlineData(0u)]
    [InlineData(0xFFFFFFFFu)]
    public void BadDimensionCountsAreRefused(uint nDims)
    {
        var raw = RawGguf.Small();
        raw.Tensors[1] = raw.Tensors[1] with { NDims = nDims };
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.NDimsPos[1]), "'blk.0.ffn_down.weight'", $"{nDims} dimensions");
    }

    [Fact]
    public void NegativeDimensionsAreRefused()
    {
        var raw = RawGguf.Small();
        raw.Tensors[0] = raw.Tensors[0] with { Dims = [32, -2] };
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.DimsPos[0] + 8), "'token_embd.weight'", "negative");
    }

    [Theory]
    [InlineData(1L << 40, 1L << 40)]
    [InlineData(long.MaxValue, 2L)]
    [InlineData(1L << 31, 1L << 31)]
    public void DimensionProductsThatOverflowOrExceedTheFileAreRefused(long ne1, long ne2)
    {
        var raw = RawGguf.Small();
        raw.Tensors[0] = raw.Tensors[0] with { Dims = [32, ne1, ne2] };
        var layout = raw.Build();
        AssertRejected(layout.Bytes, "'token_embd.weight'");
    }

    [Theory]
    [InlineData(99u)]
    [InlineData(4u)]   // Q4_2, removed from ggml
    [InlineData(21u)]  // IQ3_S: known to ggml, not implemented here
    [InlineData(0xFFFFFFFFu)]
    public void UnknownOrUnsupportedGgmlTypesListTheSupportedOnes(uint type)
    {
        var raw = RawGguf.Small();
        raw.Tensors[2] = raw.Tensors[2] with { Type = type };
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.TypePos[2]), "'output_norm.weight'", $"type id {type}", QuantTypes.SupportedNames());
    }

    [Fact]
    public void RowLengthsThatAreNotWholeBlocksAreRefused()
    {
        var raw = RawGguf.Small();
        raw.Tensors[1] = raw.Tensors[1] with { Dims = [48, 2] }; // Q8_0 blocks hold 32 values
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.DimsPos[1]), "'blk.0.ffn_down.weight'", "48", "32");
    }

    [Theory]
    [InlineData(1UL << 40)]
    [InlineData(ulong.MaxValue - 31)] // aligned, and start + size overflows 64 bits
    [InlineData(448UL)]               // aligned, starts inside the data section, but runs past its end
    public void OffsetsPastTheEndAreRefused(ulong offset)
    {
        var raw = RawGguf.Small();
        raw.Tensors[2] = raw.Tensors[2] with { Offset = offset };
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.OffsetPos[2]), "'output_norm.weight'", "file is only");
    }

    [Fact]
    public void MisalignedOffsetsAreRefused()
    {
        var raw = RawGguf.Small();
        var layout = raw.Build();
        ulong dense = (ulong)(layout.DataStart[1] - layout.DataOffset);
        raw.Tensors[1] = raw.Tensors[1] with { Offset = dense + 4 };
        layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.OffsetPos[1]), "'blk.0.ffn_down.weight'", "alignment 32");
    }

    [Fact]
    public void OverlappingTensorsAreRefused()
    {
        var raw = RawGguf.Small();
        raw.Tensors[2] = raw.Tensors[2] with { Offset = 0 }; // on top of token_embd
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.OffsetPos[2]), "'output_norm.weight'", "'token_embd.weight'", "overlaps");
    }

    [Theory]
    [InlineData(RawGguf.TypeUInt32, 0UL, "power of two")]
    [InlineData(RawGguf.TypeUInt32, 3UL, "power of two")]
    [InlineData(RawGguf.TypeUInt32, 96UL, "power of two")]
    [InlineData(RawGguf.TypeUInt64, 64UL, "UINT32")]
    [InlineData(RawGguf.TypeUInt8, 32UL, "UINT32")]
    public void BadAlignmentsAreRefused(uint type, ulong value, string reason)
    {
        var raw = RawGguf.Small();
        byte[] bytes = type switch
        {
            RawGguf.TypeUInt32 => RawGguf.U32((uint)value),
            RawGguf.TypeUInt64 => RawGguf.U64(value),
            _ => RawGguf.U8((byte)value),
        };
        raw.Kvs.Insert(1, new RawKv("general.alignment", type, bytes));
        var layout = raw.Build();
        AssertRejected(layout.Bytes, At(layout.KvTypePos[1]), "'general.alignment'", reason);
    }
}
