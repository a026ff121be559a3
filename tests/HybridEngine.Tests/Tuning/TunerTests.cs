using System.Collections.Immutable;
using System.CommandLine;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Hardware;
using HybridEngine.Tuner;
using Xunit;

namespace HybridEngine.Tests.Tuning;

/// <summary>The tuner's choices from given figures, and interruption leaving neither a profile nor the scratch file.</summary>
public class TunerTests
{
    private static TuneMeasurements Figures(MatVecPoint[] matvec, DiskPoint[] disk) => new(
        1 << 30, [new BandwidthPoint(1, 10), new BandwidthPoint(4, 30)], [.. matvec],
        new DiskMeasurements("/m", 1 << 30, true, [.. disk], 2, 10), 1);

    [Fact]
    public void ThreadsAreTheFewestWithinToleranceOfTheBest()
    {
        var m = Figures(
        [
            new("q4_K", "avx2", 1, 1, 256, 5, 1), new("q4_K", "avx2", 2, 1, 256, 9, 1),
            new("q4_K", "avx2", 4, 1, 256, 9.9, 1), new("q4_K", "avx2", 8, 1, 256, 10, 1),
            new("q4_K", "scalar", 8, 1, 256, 2, 1), new("q8_0", "avx2", 8, 1, 256, 50, 1),
        ], []);
        // 9.9 ≥ 0.97 × 10 but 9 is not: four threads; the q8_0 figures do not count for the q4_K reference.
        Assert.Equal(4, SettingsChooser.ChooseThreads(m, "avx2", "q4_K"));
        Assert.Equal("avx2", SettingsChooser.ChooseKernelPath(m.MatVec, "q4_K"));
        // A comparison run on a smaller matrix does not count: 1 thread at 10 on the full matrix stays the pick.
        var compared = m with { MatVec = [new("q4_K", "avx2", 1, 10, 256, 10, 1), new("q4_K", "avx2", 2, 10, 256, 9, 1), new("q4_K", "avx2", 2, 5, 256, 40, 1)] };
        Assert.Equal(1, SettingsChooser.ChooseThreads(compared, "avx2", "q4_K"));
        // Without matvec figures the memory curve decides (30 at 4 threads beats 10 at 1).
        Assert.Equal(4, SettingsChooser.ChooseThreads(m with { MatVec = [] }, "avx2", "q4_K"));
    }

    [Fact]
    public void KernelPathIsComparedOnTheComparisonRunOfTheReferenceType()
    {
        MatVecPoint[] points =
        [
            new("q4_K", "avx512", 1, 1000, 256, 3, 1), new("q4_K", "avx512", 2, 1000, 256, 4, 1),   // full-size runs
            new("q4_K", "avx512", 2, 100, 256, 6, 1), new("q4_K", "avx2", 2, 100, 256, 7, 1),      // comparison runs
            new("q4_K", "scalar", 2, 100, 256, 1, 1), new("q4_K", "avx2", 1, 100, 256, 50, 1),     // 1 thread: not compared
            new("q8_0", "avx512", 2, 1000, 256, 99, 1),                                            // other type: ignored
        ];
        Assert.Equal("avx2", SettingsChooser.ChooseKernelPath(points, "q4_K"));
        Assert.Equal("avx512", SettingsChooser.ChooseKernelPath(points, "q8_0"));
        Assert.Null(SettingsChooser.ChooseKernelPath(points, "q6_K"));
    }

    [Fact]
    public void IoPicksTheShallowestQueueThenSmallestBlockNearTheBest()
    {
        var disk = Figures([], [new(1 << 16, 1, 0.5), new(1 << 20, 1, 1.0), new(1 << 20, 8, 2.0), new(1 << 22, 4, 1.98), new(1 << 18, 4, 1.95)]).Disk;
        // 2.0 best; 1.98 and 1.95 are within 3%: queue depth 4 beats 8, then 256 KiB beats 4 MiB.
        Assert.Equal((1 << 18, 4), SettingsChooser.ChooseIo(disk));
        Assert.Equal((1 << 20, 4), SettingsChooser.ChooseIo(null));
    }

    [Fact]
    public void InterruptedTuneWritesNoProfileAndRemovesItsScratchFile()
    {
        using var scratch = new TuneScratch();
        var hardware = new HardwareProbe().Probe(scratch.Options.ModelDirectory);
        var options = TuneScratch.Small(TuneOptions.QuickFor(hardware, scratch.Options.ModelDirectory));

        // Cancel in the middle of the disk step, after the scratch file exists.
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => HardwareTuner.Run(hardware, options, p =>
        {
            if (p.Step == "disk" && p.Fraction > 0.5) cancel.Cancel();
        }, cancel.Token));
        Assert.Empty(Directory.EnumerateFileSystemEntries(scratch.Options.ModelDirectory));

        // The verb: exit 130, a sentence, and nothing in the profile folder.
        using var interrupt = new CancellationTokenSource();
        interrupt.Cancel();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(TuneCommand.Create(stdout, stderr, scratch.Options, TuneScratch.Small, interrupt.Token));
        int code = CliRunner.Run(root, ["tune", "--quick"], stderr);
        Assert.Equal(130, code);
        Assert.Contains("no profile written", stderr.ToString());
        Assert.False(Directory.Exists(scratch.Options.ProfileDirectory) && Directory.EnumerateFileSystemEntries(scratch.Options.ProfileDirectory).Any());
        Assert.Equal("", stdout.ToString());
    }

    [Fact]
    public void DefaultThreadCountsCoverOnePowersOfTwoPhysicalAndAll()
    {
        using var tree = Hardware.FakeSystemTree.Workstation();
        var cpu = new HardwareProbe(tree.Files, _ => false).Probe("/").Cpu with { AvailableProcessors = 16 };
        Assert.Equal([1, 2, 4, 8, 16], TuneOptions.DefaultThreadCounts(cpu).ToArray());
        Assert.Equal([1, 2, 4, 6, 8, 12], TuneOptions.DefaultThreadCounts(cpu with { AvailableProcessors = 12, PhysicalCores = 6 }).ToArray());
    }
}
