using System.Collections.Immutable;
using System.CommandLine;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Configuration;
using HybridEngine.Hardware;
using HybridEngine.Quantization;
using HybridEngine.Runtime;
using HybridEngine.Tuner;

namespace HybridEngine.Tests.Tuning;

/// <summary>A scratch project/user/model folder set and in-process runs of the tune and profile verbs with small budgets.</summary>
internal sealed class TuneScratch : IDisposable
{
    public TuneScratch()
    {
        Root = TestPaths.NewScratchDirectory();
        Options = new EngineOptions
        {
            ProfileDirectory = Path.Combine(Root, "project"),
            UserProfileDirectory = Path.Combine(Root, "user"),
            ModelDirectory = Path.Combine(Root, "models"),
        };
        Directory.CreateDirectory(Options.ModelDirectory);
    }

    public string Root { get; }
    public EngineOptions Options { get; }

    /// <summary>
    /// Budgets small enough for a test of a few seconds on a loaded 2-core machine; still every step runs. The buffers
    /// may sit in the last-level cache, so the figures are upper bounds, which the plausibility ranges allow for.
    /// </summary>
    public static TuneOptions Small(TuneOptions o) => o with
    {
        ThreadCounts = [1, Math.Min(2, Environment.ProcessorCount)],
        MemoryBufferBytes = 64L << 20,
        MemoryBudget = TimeSpan.FromMilliseconds(30),
        MatVecTypes = [GgmlType.Q4_K],
        MatVecWeightBytes = 8L << 20,
        MatVecBudget = TimeSpan.FromMilliseconds(30),
        CompareKernelPaths = false,
        MatMulTypes = [GgmlType.Q4_K],
        MatMulTokens = 8,
        MatMulWeightBytes = 256L << 10,
        MatMulBudget = TimeSpan.FromMilliseconds(30),
        GpuWeightBytes = 64L << 10,
        GpuBudget = TimeSpan.FromMilliseconds(20),
        DiskFileBytes = 16L << 20,
        DiskBlockSizes = [256 << 10],
        DiskQueueDepths = [1, 2],
        DiskBudget = TimeSpan.FromMilliseconds(60),
    };

    /// <summary>GPUs the tune verb measures instead of opening this machine's (ILGPU's CPU accelerator in tests).</summary>
    public IReadOnlyList<IComputeDevice>? Gpus { get; init; }

    public (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(TuneCommand.Create(stdout, stderr, Options, Small, gpus: Gpus));
        root.Subcommands.Add(ProfileCommand.Create(stdout, stderr, Options));
        int code = CliRunner.Run(root, args, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    public string ThisMachine => HardwareFingerprint.Compute(MachineProbe.Create().Probe(Options.ModelDirectory));

    /// <summary>A valid profile for <paramref name="hardware"/> with made-up but in-range figures (for tests of the file handling, not of measuring).</summary>
    public static HardwareProfile Synthetic(HardwareSnapshot hardware, int schema = HardwareProfile.CurrentSchemaVersion) => new(
        schema,
        HardwareFingerprint.Compute(hardware),
        "test",
        new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
        Quick: true,
        hardware,
        new TuneMeasurements(64L << 20, [new BandwidthPoint(1, 10), new BandwidthPoint(2, 18)],
            [new MatVecPoint("q4_K", "avx2", 1, 100, 4096, 8, 30)],
            new DiskMeasurements("/tmp", 1 << 24, true, [new DiskPoint(1 << 20, 4, 1.5)], 1.2, 5),
            3.5),
        new TunedSettings(2, "avx2", 1 << 20, 4, true),
        ImmutableArray<string>.Empty);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
