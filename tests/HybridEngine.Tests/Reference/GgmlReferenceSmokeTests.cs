using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Reference;

public class GgmlReferenceSmokeTests
{
    [Fact]
    public void Q8_0RoundTripThroughGgmlIsClose()
    {
        var rng = new Random(1);
        float[] x = Enumerable.Range(0, 64).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        byte[] blocks = GgmlReference.QuantizeRowRef("q8_0", x, (int)QuantTypes.Get(GgmlType.Q8_0).RowBytes(64));
        float[] y = GgmlReference.DequantizeRow("q8_0", blocks, 64);
        for (int i = 0; i < x.Length; i++) Assert.InRange(y[i] - x[i], -0.01f, 0.01f);
    }
}
