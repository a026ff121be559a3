using System.Globalization;

namespace HybridEngine.Hardware;

/// <summary>
/// The storage behind a folder: the mount that holds it (/proc/self/mountinfo), the block device behind that mount
/// (/sys/dev/block/MAJOR:MINOR, partitions and device-mapper stacks followed down to a whole disk) and what sysfs says
/// about that disk. Serial numbers are never read: profiles are shared.
/// </summary>
internal static class DiskProbe
{
    private static readonly HashSet<string> NetworkFileSystems = new(StringComparer.Ordinal)
        { "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "afs", "ceph", "glusterfs", "lustre" };

    private static readonly HashSet<string> VirtualFileSystems = new(StringComparer.Ordinal) { "9p", "virtiofs", "vboxsf", "fuse.vmhgfs-fuse" };

    public static DiskInfo Probe(ISystemFiles files, string folder)
    {
        string path = System.IO.Path.GetFullPath(folder).Replace('\\', '/');
        var space = files.Space(path);
        var mount = FindMount(files.ReadText("/proc/self/mountinfo"), path);
        if (mount is null)
        {
            return new DiskInfo(PathPrivacy.Redact(folder), HardwareSnapshot.Unknown, HardwareSnapshot.Unknown, HardwareSnapshot.Unknown, HardwareSnapshot.Unknown,
                DiskKinds.Unknown, null, null, null, space?.Free, space?.Total);
        }
        var m = mount.Value;

        string? disk = DiskBehind(files, m.DeviceNumber, m.Source);
        string kind = m.FileSystem switch
        {
            "tmpfs" or "ramfs" => DiskKinds.Ram,
            _ when NetworkFileSystems.Contains(m.FileSystem) => DiskKinds.Network,
            _ when VirtualFileSystems.Contains(m.FileSystem) => DiskKinds.Virtual,
            _ => DiskKinds.Unknown,
        };
        string model = HardwareSnapshot.Unknown;
        bool? rotational = null;
        int? logical = null, physical = null;
        if (disk is not null)
        {
            string sys = "/sys/block/" + disk;
            rotational = files.ReadText(sys + "/queue/rotational")?.Trim() switch { "1" => true, "0" => false, _ => null };
            logical = ReadInt(files, sys + "/queue/logical_block_size");
            physical = ReadInt(files, sys + "/queue/physical_block_size");
            string? driver = files.ResolveLink(sys + "/device/driver") is { } d ? System.IO.Path.GetFileName(d) : null;
            string vendor = files.ReadText(sys + "/device/vendor")?.Trim() ?? "";
            string? modelText = files.ReadText(sys + "/device/model")?.Trim();
            model = !string.IsNullOrEmpty(modelText) ? modelText : driver ?? HardwareSnapshot.Unknown;
            if (kind == DiskKinds.Unknown) kind = Classify(disk, driver, vendor, model, rotational);
        }
        return new DiskInfo(PathPrivacy.Redact(folder), PathPrivacy.Redact(m.MountPoint), m.FileSystem, disk ?? HardwareSnapshot.Unknown, model, kind,
            rotational, logical, physical, space?.Free, space?.Total);
    }

    internal static string Classify(string disk, string? driver, string vendor, string model, bool? rotational)
    {
        if (disk.StartsWith("nvme", StringComparison.Ordinal)) return DiskKinds.Nvme;
        if (disk.StartsWith("zram", StringComparison.Ordinal) || disk.StartsWith("ram", StringComparison.Ordinal) || disk.StartsWith("pmem", StringComparison.Ordinal))
            return DiskKinds.Ram;
        bool hypervisor = disk.StartsWith("vd", StringComparison.Ordinal) || disk.StartsWith("xvd", StringComparison.Ordinal)
            || driver is "virtio_blk" or "xen-blkfront" or "virtio_scsi" || vendor.Contains("QEMU", StringComparison.OrdinalIgnoreCase)
            || vendor.Contains("VMware", StringComparison.OrdinalIgnoreCase) || vendor.StartsWith("Msft", StringComparison.Ordinal)
            || model.Contains("Virtual", StringComparison.OrdinalIgnoreCase) || model.Contains("QEMU", StringComparison.OrdinalIgnoreCase)
            || model.Contains("PersistentDisk", StringComparison.Ordinal) || model.Contains("Amazon Elastic Block Store", StringComparison.Ordinal);
        if (hypervisor) return DiskKinds.Virtual;
        return rotational switch { true => DiskKinds.Hdd, false => DiskKinds.SataSsd, null => DiskKinds.Unknown };
    }

    internal readonly record struct Mount(string MountPoint, string DeviceNumber, string FileSystem, string Source);

    /// <summary>The mount whose mount point is the longest whole-component prefix of <paramref name="path"/>; the later one wins a tie (it shadows).</summary>
    internal static Mount? FindMount(string? mountInfo, string path)
    {
        Mount? best = null;
        foreach (string line in (mountInfo ?? "").Split('\n'))
        {
            // id parent major:minor root mountpoint options [optional fields] - fstype source superoptions
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int dash = Array.IndexOf(f, "-");
            if (f.Length < 5 || dash < 6 || dash + 2 >= f.Length) continue;
            string point = Unescape(f[4]);
            bool covers = point == "/" || path == point || path.StartsWith(point + "/", StringComparison.Ordinal);
            if (covers && (best is null || point.Length >= best.Value.MountPoint.Length))
                best = new Mount(point, f[2], f[dash + 1], Unescape(f[dash + 2]));
        }
        return best;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as three-digit octal.</summary>
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s.AsSpan(at, 3).IndexOfAnyExceptInRange('0', '7') < 0;

    /// <summary>The whole disk (its /sys/block name) behind a device number or a /dev source, or null.</summary>
    private static string? DiskBehind(ISystemFiles files, string deviceNumber, string source)
    {
        string? node = null;
        if (!deviceNumber.StartsWith("0:", StringComparison.Ordinal)) node = files.ResolveLink("/sys/dev/block/" + deviceNumber);
        // btrfs and some others report an anonymous device number; their source names the real device.
        if (node is null && source.StartsWith("/dev/", StringComparison.Ordinal))
        {
            string name = System.IO.Path.GetFileName(files.ResolveLink(source) ?? source);
            node = files.ResolveLink("/sys/class/block/" + name);
        }
        for (int depth = 0; node is not null && depth < 8; depth++)
        {
            // A partition's directory sits inside its disk's directory.
            if (files.ReadText(node + "/partition") is not null) node = System.IO.Path.GetDirectoryName(node)!.Replace('\\', '/');
            string name = System.IO.Path.GetFileName(node);
            // Device-mapper and md stacks (LVM, LUKS, RAID): follow the first member down to a physical disk.
            var slaves = files.List(node + "/slaves");
            if (slaves.Count == 0) return name;
            node = files.ResolveLink($"{node}/slaves/{slaves[0]}");
        }
        return null;
    }

    private static int? ReadInt(ISystemFiles files, string path) =>
        int.TryParse(files.ReadText(path)?.Trim(), CultureInfo.InvariantCulture, out int n) && n > 0 ? n : null;
}
