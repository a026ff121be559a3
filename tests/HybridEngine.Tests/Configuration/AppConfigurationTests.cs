using HybridEngine.Cli;
using Xunit;

namespace HybridEngine.Tests.Configuration;

public class AppConfigurationTests : IDisposable
{
    private readonly string _dir = TestPaths.NewScratchDirectory();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void WriteSettings(string json) => File.WriteAllText(Path.Combine(_dir, "appsettings.json"), json);

    [Fact]
    public void CommandLineBeatsEnvironmentWhichBeatsTheSettingsFile()
    {
        WriteSettings("""{ "Engine": { "Threads": 3, "KernelPath": "avx2" }, "Memory": { "RamBudget": "8G" } }""");
        var env = new Dictionary<string, string?> { ["HYBRID_Engine__Threads"] = "5", ["HYBRID_Memory__RamBudget"] = "4G", ["OTHER"] = "x" };

        var fileOnly = AppConfiguration.Load([], _dir, new Dictionary<string, string?>());
        Assert.Equal(3, fileOnly.Threads);
        Assert.Equal(8L << 30, fileOnly.RamBudget);
        Assert.Equal("avx2", fileOnly.KernelPath);

        var withEnv = AppConfiguration.Load([], _dir, env);
        Assert.Equal(5, withEnv.Threads);
        Assert.Equal(4L << 30, withEnv.RamBudget);

        var withArgs = AppConfiguration.Load(["run", "-m", "x.gguf", "-t", "7", "--ram-budget", "1.5GiB", "--cpu-only"], _dir, env);
        Assert.Equal(7, withArgs.Threads);
        Assert.Equal(3L << 29, withArgs.RamBudget);
        Assert.True(withArgs.CpuOnly);
        Assert.False(withEnv.CpuOnly);
    }

    [Fact]
    public void ABadValueIsOneSentenceNamingTheSetting()
    {
        WriteSettings("""{ "Engine": { "KernelPath": "sse9" } }""");
        var ex = Assert.Throws<UsageException>(() => AppConfiguration.Load([], _dir, new Dictionary<string, string?>()));
        Assert.Contains("Engine:KernelPath", ex.Message);

        WriteSettings("{}");
        var size = Assert.Throws<UsageException>(() => AppConfiguration.Load(["--ram-budget", "lots"], _dir, new Dictionary<string, string?>()));
        Assert.Contains("--ram-budget", size.Message);

        var speed = Assert.Throws<UsageException>(() => AppConfiguration.Load(["--disk-gbps", "-1"], _dir, new Dictionary<string, string?>()));
        Assert.Contains("Streaming:DiskGBps (--disk-gbps) '-1'", speed.Message);
    }

    [Fact]
    public void StreamingSettingsBindFromTheFileAndTheCommandLine()
    {
        WriteSettings("""{ "Streaming": { "DiskGBps": "0.5" } }""");
        var fromFile = AppConfiguration.Load([], _dir, new Dictionary<string, string?>());
        Assert.Equal(0.5, fromFile.DiskGBps);
        Assert.False(fromFile.NoPrefetch);

        var fromArgs = AppConfiguration.Load(["plan", "-m", "x.gguf", "--disk-gbps", "0.25", "--no-prefetch", "--json"], _dir, new Dictionary<string, string?>());
        Assert.Equal(0.25, fromArgs.DiskGBps);
        Assert.True(fromArgs.NoPrefetch);

        WriteSettings("{}");
        Assert.Null(AppConfiguration.Load([], _dir, new Dictionary<string, string?>()).DiskGBps);
    }
}
