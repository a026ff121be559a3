using HybridEngine.Gpu;
using HybridEngine.Hardware;
using HybridEngine.Planning;
using HybridEngine.Quantization;
using HybridEngine.Tuner;
using Xunit;

namespace HybridEngine.Tests.Tuning;

/// <summary>
/// The GPU part of the tuner, run on ILGPU's CPU accelerator standing in for a GPU (same kernels, no GPU needed), and
/// the CPU matrix-matrix step: figures positive and finite, recorded in the profile, read back, and taken by the
/// planner's hardware view for the probed GPU they belong to.
/// </summary>
public class GpuTuneTests
{
    [Fact]
    public void GpuAndMatMulFiguresLandInTheProfileAndThePlannerView()
    {
        using var scratch = new TuneScratch();
        using var gpu = GpuDevices.CreateCpuPretend();
        var probed = new HardwareProbe().Probe(scratch.Options.ModelDirectory);
        // As the probe lists an accelerator: the GPU entry carries the compute device's name.
        var hardware = probed with
        {
            Gpus = probed.Gpus.Add(new GpuInfo("stand-in", "unknown", "unknown", "unknown", "unknown", false, gpu.MemoryBytes, 2, "cuda", "", gpu.Name)),
        };
        // Tiny sizes: the CPU accelerator emulates GPU threads and is slow; the step's logic is what is tested.
        var options = TuneScratch.Small(TuneOptions.QuickFor(hardware, scratch.Options.ModelDirectory)) with
        {
            MatVecTypes = [GgmlType.Q4_K, GgmlType.Q8_0],
            MatMulTypes = [GgmlType.Q4_K, GgmlType.Q8_0],
            MatMulTokens = 4,
            MatMulWeightBytes = 256L << 10,
            MatMulBudget = TimeSpan.FromMilliseconds(10),
            GpuWeightBytes = 64L << 10,
            GpuBudget = TimeSpan.FromMilliseconds(10),
            DiskFileBytes = 0,
        };

        var profile = HardwareTuner.Run(hardware, options, gpus: [gpu]);

        var cpu = profile.Measurements.MatMul;
        Assert.Equal(options.MatMulTypes.Length * options.ThreadCounts.Length, cpu.Length);
        foreach (var type in new[] { "q4_K", "q8_0" })
        {
            Assert.Equal(options.ThreadCounts.ToArray(), cpu.Where(p => p.WeightType == type).Select(p => p.Threads).ToArray());
        }
        Assert.All(cpu, p => Assert.True(p.Tokens == 4 && p.Gflops > 0 && double.IsFinite(p.Gflops) && p.GBps > 0, $"{p}"));

        var figures = Assert.Single(profile.Measurements.Gpus);
        Assert.Equal(gpu.Name, figures.Device);
        Assert.True(figures.HostToDeviceGBps > 0 && double.IsFinite(figures.HostToDeviceGBps), $"upload {figures.HostToDeviceGBps} GB/s");
        Assert.True(figures.TransferBytes > 0 && figures.TransferBytes <= options.GpuWeightBytes);
        Assert.Equal(["q4_K", "q8_0"], figures.MatVec.Select(p => p.WeightType).ToArray());
        Assert.Equal(["q4_K", "q8_0"], figures.MatMul.Select(p => p.WeightType).ToArray());
        Assert.All(figures.MatVec, p => Assert.Equal(1, p.Tokens));
        Assert.All(figures.MatMul, p => Assert.Equal(4, p.Tokens));
        Assert.All(figures.MatVec.Concat(figures.MatMul), p => Assert.True(p.GBps > 0 && p.Gflops > 0 && double.IsFinite(p.Gflops), $"{p}"));

        // Written and read back under the current schema, validation included.
        var read = ProfileJson.Parse(ProfileJson.Serialize(profile), "tuned");
        Assert.Equal(figures.HostToDeviceGBps, Assert.Single(read.Measurements.Gpus).HostToDeviceGBps);
        Assert.Equal(cpu.Length, read.Measurements.MatMul.Length);

        // The planner reads the GPU's measured Q4_K matvec rate for the GPU the figures belong to, nothing for the others.
        var view = PlannerHardware.FromProfile(read, "test");
        var standIn = Assert.Single(view.Gpus, g => g.Name == "stand-in");
        Assert.Equal(figures.MatVec.Single(p => p.WeightType == "q4_K").GBps, standIn.ReadGBps);
        Assert.All(view.Gpus.Where(g => g.Name != "stand-in"), g => Assert.Null(g.ReadGBps));
    }

    [Fact]
    public void ImplausibleGpuFiguresAreRejectedOnLoad()
    {
        using var scratch = new TuneScratch();
        var profile = TuneScratch.Synthetic(new HardwareProbe().Probe(scratch.Options.ModelDirectory));
        var gpu = new GpuMeasurements("cuda:X", 8L << 30, 1 << 20, 25, [new GpuMatPoint("q4_K", 10, 256, 1, 500, 100)], []);
        Assert.Null(ProfileJson.Validate(profile with { Measurements = profile.Measurements with { Gpus = [gpu] } }));
        // Uploading at 20 TB/s is outside physics (the limit is stated in ProfileJson.Validate).
        var fast = profile with { Measurements = profile.Measurements with { Gpus = [gpu with { HostToDeviceGBps = 20_000 }] } };
        Assert.Contains("hostToDeviceGbps", ProfileJson.Validate(fast));
        var zero = profile with { Measurements = profile.Measurements with { MatMul = [new MatMulPoint("q4_K", "avx2", 1, 10, 256, 32, 1, 0)] } };
        Assert.Contains("matMul", ProfileJson.Validate(zero));
    }
}
