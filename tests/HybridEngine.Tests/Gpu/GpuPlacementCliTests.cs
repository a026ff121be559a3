using System.CommandLine;
using System.Runtime.InteropServices;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Gpu;
using HybridEngine.Tests.Tuning;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// <c>hybrid eval</c> with a synthetic profile that lists an 8 GB GPU, the GPU being ILGPU's CPU accelerator handed
/// to the command in place of discovery: GPU placement is carried out and matches --cpu-only; --cpu-only never opens a
/// GPU; a GPU that cannot be opened gives one warning and the CPU-only result.
/// </summary>
public sealed class GpuPlacementCliTests : IDisposable
{
    private readonly GpuCliScratch _scratch = new();
    private int _discoveries;

    public void Dispose() => _scratch.Dispose();

    /// <summary>
    /// The plan puts the whole tiny model (it fits the 8 GB) on the GPU, which computes it; F32 weights, so logits
    /// differ from --cpu-only only by summation order: within 1e-4 of their range (see <see cref="GpuPlacementTests"/>).
    /// </summary>
    [Fact]
    public void EvalWithGpuPlacementMatchesCpuOnly()
    {
        var (cpu, cpuErr) = Eval("cpu.bin", CpuAccelerator, "--cpu-only");
        Assert.Equal(0, _discoveries);
        Assert.DoesNotContain("accelerators", cpuErr);

        var (gpu, gpuErr) = Eval("gpu.bin", CpuAccelerator);
        Assert.Equal(1, _discoveries);
        Assert.DoesNotContain("warning", gpuErr);
        Assert.Matches(@"accelerators: [1-9]\d* matrices and [1-9]\d* experts", gpuErr);
        Assert.NotEqual(cpu, gpu);   // really computed elsewhere: summation order shows in the last bits
        double range = cpu.Max() - cpu.Min();
        for (int i = 0; i < cpu.Length; i++) Assert.True(Math.Abs(cpu[i] - gpu[i]) <= 1e-4 * range, $"logit {i}: {cpu[i]} vs {gpu[i]}");
    }

    /// <summary>--cpu-only with a profile that lists a GPU and a GPU present: discovery is never called, nothing is placed.</summary>
    [Fact]
    public void CpuOnlyNeverOpensTheGpu()
    {
        var (_, err) = Eval("cpu.bin", CpuAccelerator, "--cpu-only");
        Assert.Equal(0, _discoveries);
        Assert.DoesNotContain("accelerators", err);
        Assert.DoesNotContain("warning", err);
    }

    /// <summary>No GPU can be initialised although the profile lists one: one warning, exit 0, the CPU-only logits exactly.</summary>
    [Fact]
    public void GpuThatCannotBeInitialisedFallsBackWithOneWarning()
    {
        var (cpu, _) = Eval("cpu.bin", CpuAccelerator, "--cpu-only");
        var (fallback, err) = Eval("fallback.bin", () => new GpuDiscovery([], ["GPU drivers could not be queried: libcuda.so.1 missing"]));
        Assert.Equal(1, err.Split('\n').Count(l => l.StartsWith("warning:", StringComparison.Ordinal)));
        Assert.Contains("none could be initialised", err);
        Assert.Contains("libcuda.so.1 missing", err);
        Assert.Contains("accelerators: fell back to the CPU", err);
        Assert.Equal(cpu, fallback);
    }

    private GpuDiscovery CpuAccelerator()
    {
        _discoveries++;
        return new GpuDiscovery([GpuDevices.CreateCpuPretend()], []);
    }

    private (float[] Logits, string Err) Eval(string name, Func<GpuDiscovery> discover, params string[] extra)
    {
        string output = Path.Combine(_scratch.Root, name);
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(EvalCommand.Create(stderr, _scratch.Options, TuneScratch.Small, discover));
        string[] args = ["eval", "-m", _scratch.Model, "--tokens", "1,7,3,12,5,9", "--logits-out", output, "--profile", _scratch.GpuProfile, "--stats", .. extra];
        int code = CliRunner.Run(root, args, stderr);
        Assert.True(code == 0, stderr.ToString());
        return (MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray(), stderr.ToString());
    }
}
