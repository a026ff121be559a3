using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace HybridEngine.Hardware;

/// <summary>
/// A machine's identity as 16 hex digits: the first 8 bytes of SHA-256 over a canonical text of the identity facts
/// only. Two machines with the same fingerprint can share a profile; two boots of one machine, or two identical VMs,
/// get the same one.
/// </summary>
/// <remarks>
/// Identity: CPU vendor, model, architecture, sockets, physical and logical cores, NUMA nodes and instruction sets;
/// installed RAM in whole GiB; each GPU's vendor, device id, name and memory in whole GiB; the model folder's disk
/// kind and model. Excluded on purpose: free memory and disk, clocks (they drift), the OS and .NET versions (an update
/// keeps the hardware), time, host names and anything serial.
/// </remarks>
public static class HardwareFingerprint
{
    /// <summary>The canonical text: one <c>key=value</c> line per fact in fixed order, lists sorted, invariant culture.</summary>
    public static string CanonicalText(HardwareSnapshot s)
    {
        var sb = new StringBuilder();
        void Line(string key, object? value) =>
            sb.Append(key).Append('=').Append(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null").Append('\n');

        Line("cpu.vendor", s.Cpu.Vendor);
        Line("cpu.model", s.Cpu.Model);
        Line("cpu.architecture", s.Cpu.Architecture);
        Line("cpu.sockets", s.Cpu.Sockets);
        Line("cpu.physicalCores", s.Cpu.PhysicalCores);
        Line("cpu.logicalCores", s.Cpu.LogicalCores);
        Line("cpu.numaNodes", s.Cpu.NumaNodes);
        Line("cpu.instructionSets", string.Join(',', s.Cpu.InstructionSets.Order(StringComparer.Ordinal)));
        Line("memory.installedGiB", RoundGiB(s.Memory.InstalledBytes));
        var gpus = s.Gpus.Select(g => string.Join('|', g.VendorId, g.DeviceId, g.Name, g.MemoryBytes is long m ? RoundGiB(m).ToString(CultureInfo.InvariantCulture) : "null"))
            .Order(StringComparer.Ordinal).ToArray();
        Line("gpu.count", gpus.Length);
        for (int i = 0; i < gpus.Length; i++) Line($"gpu.{i}", gpus[i]);
        Line("disk.kind", s.Disk.Kind);
        Line("disk.model", s.Disk.Model);
        return sb.ToString();
    }

    public static string Compute(HardwareSnapshot snapshot)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalText(snapshot)));
        return Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }

    /// <summary>Whether <paramref name="text"/> has the shape of a fingerprint (16 lower-case hex digits).</summary>
    public static bool IsWellFormed(string? text) =>
        text is { Length: 16 } && text.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    private static long RoundGiB(long bytes) => (bytes + (1L << 29)) >> 30;
}
