using System.Collections.Immutable;
using HybridEngine.Hardware;
using Xunit;

namespace HybridEngine.Tests.Hardware;

/// <summary>The fingerprint is stable for one machine, changes with every identity fact and ignores volatile ones.</summary>
public class HardwareFingerprintTests
{
    // Built once: writing the fake tree is the slow part, and snapshots are immutable.
    private static readonly Lazy<HardwareSnapshot> BaseSnapshot = new(() =>
    {
        using var tree = FakeSystemTree.Workstation();
        return new HardwareProbe(tree.Files, _ => false).Probe("/data/models");
    });

    private static HardwareSnapshot Base() => BaseSnapshot.Value;

    [Fact]
    public void TwoProbesOfOneMachineAgree()
    {
        string folder = Path.GetTempPath();
        var first = new HardwareProbe().Probe(folder);
        var second = new HardwareProbe().Probe(folder);
        Assert.Equal(HardwareFingerprint.Compute(first), HardwareFingerprint.Compute(second));

        using var tree = FakeSystemTree.Workstation();
        var probe = new HardwareProbe(tree.Files, _ => false);
        Assert.Equal(HardwareFingerprint.Compute(Base()), HardwareFingerprint.Compute(probe.Probe("/data")));
    }

    [Fact]
    public void FingerprintIsSixteenHexDigits()
    {
        string fingerprint = HardwareFingerprint.Compute(Base());
        Assert.True(HardwareFingerprint.IsWellFormed(fingerprint), fingerprint);
        Assert.False(HardwareFingerprint.IsWellFormed(fingerprint.ToUpperInvariant() + "X"));
    }

    public static TheoryData<string> IdentityFields => new(IdentityChanges.Keys);

    private static readonly Dictionary<string, Func<HardwareSnapshot, HardwareSnapshot>> IdentityChanges = new()
    {
        ["cpu.vendor"] = s => s with { Cpu = s.Cpu with { Vendor = "GenuineIntel" } },
        ["cpu.model"] = s => s with { Cpu = s.Cpu with { Model = s.Cpu.Model + " v2" } },
        ["cpu.architecture"] = s => s with { Cpu = s.Cpu with { Architecture = "arm64" } },
        ["cpu.sockets"] = s => s with { Cpu = s.Cpu with { Sockets = 1 } },
        ["cpu.physicalCores"] = s => s with { Cpu = s.Cpu with { PhysicalCores = 6 } },
        ["cpu.logicalCores"] = s => s with { Cpu = s.Cpu with { LogicalCores = 12 } },
        ["cpu.numaNodes"] = s => s with { Cpu = s.Cpu with { NumaNodes = 1 } },
        ["cpu.instructionSets"] = s => s with { Cpu = s.Cpu with { InstructionSets = s.Cpu.InstructionSets.Remove("avx512vnni") } },
        ["memory.installed"] = s => s with { Memory = s.Memory with { InstalledBytes = s.Memory.InstalledBytes + (1L << 30) } },
        ["gpu.added"] = s => s with { Gpus = s.Gpus.Add(new GpuInfo("X", "AMD", "0x1002", "0x744c", "amdgpu", false, 24L << 30, null, "none", "")) },
        ["gpu.removed"] = s => s with { Gpus = s.Gpus.RemoveAt(0) },
        ["gpu.model"] = s => s with { Gpus = s.Gpus.SetItem(1, s.Gpus[1] with { DeviceId = "0x2704", Name = "NVIDIA GeForce RTX 4080" }) },
        ["gpu.memory"] = s => s with { Gpus = s.Gpus.SetItem(1, s.Gpus[1] with { MemoryBytes = 16L << 30 }) },
        ["disk.kind"] = s => s with { Disk = s.Disk with { Kind = DiskKinds.SataSsd } },
        ["disk.model"] = s => s with { Disk = s.Disk with { Model = "WDC WD80EFZZ" } },
    };

    [Theory]
    [MemberData(nameof(IdentityFields))]
    public void ChangingAnIdentityFactChangesTheFingerprint(string field)
    {
        var snapshot = Base();
        Assert.NotEqual(HardwareFingerprint.Compute(snapshot), HardwareFingerprint.Compute(IdentityChanges[field](snapshot)));
    }

    [Fact]
    public void EveryIdentityChangeGivesADifferentFingerprint()
    {
        var snapshot = Base();
        var all = IdentityChanges.Values.Select(change => HardwareFingerprint.Compute(change(snapshot))).Append(HardwareFingerprint.Compute(snapshot)).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    public static TheoryData<string> VolatileFields => new(VolatileChanges.Keys);

    private static readonly Dictionary<string, Func<HardwareSnapshot, HardwareSnapshot>> VolatileChanges = new()
    {
        ["time"] = s => s with { TakenUtc = s.TakenUtc.AddDays(3) },
        ["memory.available"] = s => s with { Memory = s.Memory with { AvailableBytes = 123 } },
        ["memory.total (MemTotal drifts with kernel reservations)"] = s => s with { Memory = s.Memory with { TotalBytes = s.Memory.TotalBytes - (40L << 20) } },
        ["memory.swapFree"] = s => s with { Memory = s.Memory with { SwapFreeBytes = 0 } },
        ["memory.thp"] = s => s with { Memory = s.Memory with { TransparentHugePages = "never" } },
        ["disk.free"] = s => s with { Disk = s.Disk with { FreeBytes = 1, TotalBytes = 2 } },
        ["disk.path"] = s => s with { Disk = s.Disk with { Path = "/elsewhere", MountPoint = "/elsewhere" } },
        ["cpu.clocks"] = s => s with { Cpu = s.Cpu with { BaseMhz = 1000, MaxMhz = 1000 } },
        ["cpu.availableProcessors"] = s => s with { Cpu = s.Cpu with { AvailableProcessors = 1 } },
        ["cpu.runtimeInstructionSets"] = s => s with { Cpu = s.Cpu with { RuntimeInstructionSets = [] , SimdPath = "scalar" } },
        ["cpu.instructionSetOrder"] = s => s with { Cpu = s.Cpu with { InstructionSets = s.Cpu.InstructionSets.Reverse().ToImmutableArray() } },
        ["gpu.runtime"] = s => s with { Gpus = s.Gpus.Select(g => g with { Runtime = "cuda", Hint = "" }).ToImmutableArray() },
        ["gpu.order"] = s => s with { Gpus = s.Gpus.Reverse().ToImmutableArray() },
        ["os"] = s => s with { Os = new OsInfo("linux", "Other Linux 2", "6.9.0", ".NET 11") },
    };

    [Theory]
    [MemberData(nameof(VolatileFields))]
    public void VolatileFactsLeaveTheFingerprintAlone(string field)
    {
        var snapshot = Base();
        Assert.Equal(HardwareFingerprint.Compute(snapshot), HardwareFingerprint.Compute(VolatileChanges[field](snapshot)));
    }

    [Fact]
    public void CanonicalTextNamesNoHostOrUser()
    {
        string text = HardwareFingerprint.CanonicalText(new HardwareProbe().Probe(Path.GetTempPath()));
        Assert.DoesNotContain(Environment.MachineName, text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("=" + Environment.UserName + "\n", text);
    }
}
