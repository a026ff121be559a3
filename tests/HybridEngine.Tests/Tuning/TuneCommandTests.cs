using System.Text.Json;
using HybridEngine.Gpu;
using HybridEngine.Hardware;
using Xunit;

namespace HybridEngine.Tests.Tuning;

/// <summary>
/// <c>hybrid tune --quick</c> in-process with small budgets (and ILGPU's CPU accelerator as its GPU): a valid profile
/// with plausible figures that <c>profile show</c> reads back.
/// </summary>
public class TuneCommandTests
{
    [Fact]
    public void QuickTuneWritesAValidPlausibleProfileThatShowReadsBack()
    {
        using var gpu = GpuDevices.CreateCpuPretend();
        using var scratch = new TuneScratch { Gpus = [gpu] };
        string path = Path.Combine(scratch.Root, "out", "tuned.json");
        var (code, stdout, stderr) = scratch.Run("tune", "--quick", "--out", path, "--disk-path", scratch.Options.ModelDirectory);
        Assert.True(code == 0, stderr);
        Assert.Contains("profile written to", stderr);

        var profile = ProfileJson.Load(path);   // validates schema, ranges and the fingerprint against its own hardware
        Assert.Equal(scratch.ThisMachine, profile.Fingerprint);
        Assert.True(profile.Quick);
        var m = profile.Measurements;

        // Physical ranges. Memory: a 64 MiB buffer may be partly cache-resident, so allow up to 2 TB/s; at least
        // 0.1 GB/s (even a loaded 2-core VM streams several GB/s).
        Assert.Equal(2, m.MemoryRead.Length);
        Assert.All(m.MemoryRead, b => Assert.InRange(b.GBps, 0.1, 2000));
        var q4 = Assert.Single(m.MatVec, v => v.Threads == 1);
        Assert.Equal("q4_K", q4.WeightType);
        Assert.InRange(q4.GBps, 0.01, 2000);
        // GFLOP/s and GB/s describe the same timed product: their ratio is fixed by Q4_K's 4.5 bits per weight.
        Assert.Equal(2 / (144.0 / 256), q4.Gflops / q4.GBps, 3);
        // CPU matrix-matrix at every thread count; its ratio too is fixed by the bits per weight and the batch (8 tokens).
        Assert.Equal(m.MemoryRead.Select(b => b.Threads), m.MatMul.Select(p => p.Threads));
        Assert.All(m.MatMul, p => Assert.Equal(8 * 2 / (144.0 / 256), p.Gflops / p.GBps, 3));
        var measured = Assert.Single(m.Gpus);
        Assert.Equal(gpu.Name, measured.Device);
        Assert.InRange(measured.HostToDeviceGBps, 0.001, 10_000);
        Assert.Equal("q4_K", Assert.Single(measured.MatVec).WeightType);
        var disk = m.Disk!;
        Assert.Equal(2, disk.Direct.Length);
        Assert.All(disk.Direct, p => Assert.InRange(p.GBps, 0.001, 1000));
        Assert.InRange(disk.PageCacheGBps ?? 1, 0.01, 1000);
        Assert.InRange(profile.Settings.Threads, 1, Environment.ProcessorCount);
        Assert.Contains(profile.Settings.IoQueueDepth, new[] { 1, 2 });

        // The scratch file is gone; only the profile was written.
        Assert.Empty(Directory.EnumerateFileSystemEntries(scratch.Options.ModelDirectory));
        Assert.Single(Directory.EnumerateFiles(Path.GetDirectoryName(path)!));
        Assert.Contains(profile.Fingerprint, stdout);

        var (showCode, shown, showErr) = scratch.Run("profile", "show", path, "--json");
        Assert.True(showCode == 0, showErr);
        var json = JsonDocument.Parse(shown).RootElement;   // exactly one document
        Assert.Equal(profile.Fingerprint, json.GetProperty("fingerprint").GetString());
        Assert.Equal(m.MemoryRead[1].GBps, json.GetProperty("measurements").GetProperty("memoryRead")[1].GetProperty("gbps").GetDouble());

        var (textCode, text, _) = scratch.Run("profile", "show", path);
        Assert.Equal(0, textCode);
        Assert.Contains(profile.Fingerprint, text);
        Assert.Contains("memory read bandwidth", text);
        Assert.Contains("matmul (8 tokens", text);
        Assert.Contains($"gpu {gpu.Name}", text);
        Assert.Contains("host-to-device", text);
    }

    [Fact]
    public void TuneJsonPrintsOneDocumentAndDefaultsToTheProjectFolder()
    {
        using var scratch = new TuneScratch();
        var (code, stdout, stderr) = scratch.Run("tune", "--quick", "--json", "--disk-path", scratch.Options.ModelDirectory);
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        string fingerprint = json.GetProperty("fingerprint").GetString()!;
        Assert.True(File.Exists(Path.Combine(scratch.Options.ProfileDirectory, fingerprint + ".json")));
    }

    [Fact]
    public void MissingDiskFolderIsAUsageError()
    {
        using var scratch = new TuneScratch();
        var (code, _, stderr) = scratch.Run("tune", "--quick", "--disk-path", Path.Combine(scratch.Root, "nope"));
        Assert.Equal(2, code);
        Assert.Contains("--disk-path", stderr);
    }
}
