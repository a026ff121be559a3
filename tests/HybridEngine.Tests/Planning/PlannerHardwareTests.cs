using System.Text.Json;
using HybridEngine.Hardware;
using HybridEngine.Planning;
using Xunit;

namespace HybridEngine.Tests.Planning;

/// <summary>The planner's figures from the project's committed profiles, checked against the JSON read directly.</summary>
public sealed class PlannerHardwareTests
{
    public static IEnumerable<object[]> Profiles() =>
        Directory.GetFiles(Path.Combine(TestPaths.RepositoryRoot, "profiles"), "*.json").Order(StringComparer.Ordinal).Select(p => new object[] { Path.GetFileName(p) });

    [Theory]
    [MemberData(nameof(Profiles))]
    public void FiguresAreTheMeasurementsAtTheTunedSettings(string name)
    {
        string path = Path.Combine(TestPaths.RepositoryRoot, "profiles", name);
        var hardware = PlannerHardware.FromProfile(ProfileJson.Load(path), path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var settings = root.GetProperty("settings");
        var m = root.GetProperty("measurements");

        var disk = m.GetProperty("disk").GetProperty("direct").EnumerateArray()
            .Single(p => p.GetProperty("blockBytes").GetInt32() == settings.GetProperty("ioBlockBytes").GetInt32()
                      && p.GetProperty("queueDepth").GetInt32() == settings.GetProperty("ioQueueDepth").GetInt32());
        Assert.Equal(disk.GetProperty("gbps").GetDouble(), hardware.DiskReadGBps);

        int threads = settings.GetProperty("threads").GetInt32();
        var memory = m.GetProperty("memoryRead").EnumerateArray().Where(p => p.GetProperty("threads").GetInt32() == threads).Max(p => p.GetProperty("gbps").GetDouble());
        Assert.Equal(memory, hardware.MemoryReadGBps);

        string kernel = settings.GetProperty("kernelPath").GetString()!;
        var q4k = m.GetProperty("matVec").EnumerateArray()
            .Where(p => p.GetProperty("weightType").GetString() == "q4_K" && p.GetProperty("kernelPath").GetString() == kernel && p.GetProperty("threads").GetInt32() == threads)
            // The largest matrix measured (decode streams weights from RAM, not from a cache-sized matrix).
            .OrderByDescending(p => p.GetProperty("rows").GetInt64() * p.GetProperty("columns").GetInt64())
            .First().GetProperty("gbps").GetDouble();
        Assert.Equal(q4k * 1e9, hardware.CpuReadBytesPerSecond("q4_k"));
        Assert.Equal(root.GetProperty("hardware").GetProperty("memory").GetProperty("totalBytes").GetInt64(), hardware.RamBytes);
        Assert.False(hardware.Assumed);
    }
}
