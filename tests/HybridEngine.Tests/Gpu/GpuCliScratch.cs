using HybridEngine.Configuration;
using HybridEngine.Hardware;
using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
using HybridEngine.Tests.Tuning;

namespace HybridEngine.Tests.Gpu;

/// <summary>
/// A scratch folder for CLI tests with a GPU: a tiny F32 qwen3moe model, profile folders of its own, and a synthetic
/// profile of this machine that lists an 8 GB discrete GPU (ILGPU's CPU accelerator is handed in for it).
/// </summary>
internal sealed class GpuCliScratch : IDisposable
{
    public GpuCliScratch()
    {
        Model = Path.Combine(Root, "tiny.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(GgmlType.F32, Seed: 3), Model);
        Options = new EngineOptions
        {
            ProfileDirectory = Path.Combine(Root, "project"),
            UserProfileDirectory = Path.Combine(Root, "user"),
            ModelDirectory = Root,
        };
        var machine = TuneScratch.Synthetic(new HardwareProbe().Probe(Root));
        var gpu = new GpuInfo("Test GPU 8GB", "nvidia", "0x10de", "0x2882", "nvidia", Integrated: false, MemoryBytes: 8L << 30, ComputeUnits: 32, "cuda", "");
        var hardware = machine.Hardware with { Gpus = [gpu] };
        GpuProfile = Path.Combine(Root, "gpu.json");
        ProfileJson.Save(machine with { Hardware = hardware, Fingerprint = HardwareFingerprint.Compute(hardware) }, GpuProfile);
    }

    public string Root { get; } = TestPaths.NewScratchDirectory();
    public string Model { get; }
    public string GpuProfile { get; }
    public EngineOptions Options { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
