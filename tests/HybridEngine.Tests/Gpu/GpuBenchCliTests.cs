using System.CommandLine;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Configuration;
using HybridEngine.Gpu;
using HybridEngine.Hardware;
using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
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
    private readonly string _root = TestPaths.NewScratchDirectory();
    private readonly string _model, _gpuProfile;
    private readonly EngineOptions _options;
    private int _discoveries;

    public GpuBenchCliTests()
    {
        _model = Path.Combine(_root, "tiny.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(GgmlType.F32, Seed: 3), _model);
        _options = new EngineOptions { ProfileDirectory = Path.Combine(_root, "project"), UserProfileDirectory = Path.Combine(_root, "user"), ModelDirectory = _root };
        var machine = TuneScratch.Synthetic(new HardwareProbe().Probe(_root));
        var gpu = new GpuInfo("Test GPU 8GB", "nvidia", "0x10de", "0x2882", "nvidia", Integrated: false, MemoryBytes: 8L << 30, ComputeUnits: 32, "cuda", "");
        var hardware = machine.Hardware with { Gpus = [gpu] };
        _gpuProfile = Path.Combine(_root, "gpu.json");
        ProfileJson.Save(machine with { Hardware = hardware, Fingerprint = HardwareFingerprint.Compute(hardware) }, _gpuProfile);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

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
        root.Subcommands.Add(BenchCommand.Create(stdout, stderr, _options, TuneScratch.Small, CpuAccelerator));
        int code = CliRunner.Run(root, ["bench", "-m", _model, "--pp", "8", "--tg", "4", "-r", "1", "-t", "1", "--profile", _gpuProfile, .. extra], stderr);
        Assert.True(code == 0, stderr.ToString());
        return (stdout.ToString(), stderr.ToString());
    }
}
