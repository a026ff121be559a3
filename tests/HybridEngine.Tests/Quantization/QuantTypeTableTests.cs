using HybridEngine.Quantization;
using HybridEngine.Tests.Reference;
using Xunit;

namespace HybridEngine.Tests.Quantization;

/// <summary>Every row of the quant-type table against ggml's own type traits.</summary>
public class QuantTypeTableTests
{
    public static TheoryData<GgmlType> TableTypes() => new(QuantTypes.All.Select(t => t.Type));

    [Theory]
    [MemberData(nameof(TableTypes))]
    public void BlockSizeAndBytesMatchGgml(GgmlType type)
    {
        var info = QuantTypes.Get(type);
        Assert.Equal(GgmlReference.BlockSize((int)type), info.BlockSize);
        Assert.Equal(GgmlReference.TypeSize((int)type), info.BytesPerBlock);
        Assert.Equal(GgmlReference.RowSize((int)type, 4096), info.RowBytes(4096));
    }
}
