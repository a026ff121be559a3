using System.CommandLine;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Gpu;
using HybridEngine.Tests.Tuning;
using Xunit;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// <c>hybrid bench</c> with a synthetic profile that lists an 8 GB GPU, ILGPU's CPU accelerator standing in for it
/// (as in <see cref="GpuPlacementCliTests"/>): the placement it reports names the accelerator and what is on it, and
/// with --cpu-only names none and never opens a GPU.
/// </summary>
public sealed class GpuBenchCliTests : IDisposable
{
    private readonly GpuCliScratch _scratch = new();
    private int _discoveries;

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void ReportsTheGpuPlacementOnlyWhenTheGpuIsUsed()
    {
        var cpu = Bench("--cpu-only", "--json");
        Assert.Equal(0, _discoveries);
        var cpuPlacement = JsonDocument.Parse(cpu.Out).RootElement.GetProperty("placement");
        Assert.Equal("resident", cpuPlacement.GetProperty("mode").GetString());
        Assert.Equal(JsonValueKind.Null, cpuPlacement.GetProperty("accelerators").ValueKind);

        var gpu = Bench("--json");
        Assert.Equal(1, _discoveries);
        var accelerators = JsonDocument.Parse(gpu.Out).RootElement.GetProperty("placement").GetProperty("accelerators");
        Assert.Equal(JsonValueKind.Object, accelerators.ValueKind);
        Assert.False(accelerators.GetProperty("fell_back").GetBoolean());
        Assert.True(accelerators.GetProperty("matrices").GetInt32() > 0, gpu.Out);
        Assert.True(accelerators.GetProperty("bytes").GetInt64() > 0, gpu.Out);
        Assert.Single(accelerators.GetProperty("devices").EnumerateArray());

        // On stderr, the placement line of run --stats, with the accelerators only when one is used.
        Assert.DoesNotContain("accelerators:", cpu.Err);
        Assert.Matches(@"accelerators: [1-9]\d* matrices and \d+ experts", gpu.Err);
    }

    private GpuDiscovery CpuAccelerator()
    {
        _discoveries++;
        return new GpuDiscovery([GpuDevices.CreateCpuPretend()], []);
    }

    private (string Out, string Err) Bench(params string[] extra)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(BenchCommand.Create(stdout, stderr, _scratch.Options, TuneScratch.Small, CpuAccelerator));
        int code = CliRunner.Run(root, ["bench", "-m", _scratch.Model, "--pp", "8", "--tg", "4", "-r", "1", "-t", "1", "--profile", _scratch.GpuProfile, .. extra], stderr);
        Assert.True(code == 0, stderr.ToString());
        return (stdout.ToString(), stderr.ToString());
    }
}
