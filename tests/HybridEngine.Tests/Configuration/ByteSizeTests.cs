using HybridEngine.Configuration;
using Xunit;

namespace HybridEngine.Tests.Configuration;

public class ByteSizeTests
{
    [Theory]
    [InlineData("1024", 1024L)]
    [InlineData("512M", 512L << 20)]
    [InlineData("4G", 4L << 30)]
    [InlineData("4g", 4L << 30)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData("16GB", 16L << 30)]
    [InlineData("2T", 2L << 40)]
    [InlineData(" 64 K ", 64L << 10)]
    public void ParsesTheSizesTheCommandLineAccepts(string text, long expected) => Assert.Equal(expected, ByteSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("-1G")]
    [InlineData("12Q")]
    [InlineData("1e3")]
    [InlineData("99999999999T")]
    public void RejectsWhatIsNotASize(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _));
        var ex = Assert.Throws<FormatException>(() => ByteSize.Parse(text, "--ram-budget"));
        Assert.Contains("--ram-budget", ex.Message);
    }

    [Theory]
    [InlineData(512L, "512 B")]
    [InlineData(3L << 29, "1.50 GiB")]
    [InlineData(12L << 20, "12.0 MiB")]
    public void FormatsForPeople(long bytes, string expected) => Assert.Equal(expected, ByteSize.Format(bytes));
}
