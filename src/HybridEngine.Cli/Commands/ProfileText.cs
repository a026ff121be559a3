using System.Globalization;
using HybridEngine.Hardware;

namespace HybridEngine.Cli.Commands;

/// <summary>A profile as aligned, human-readable text (what <c>profile show</c> and <c>tune</c> print).</summary>
public static class ProfileText
{
    public static void Write(HardwareProfile p, string path, TextWriter w)
    {
        var h = p.Hardware;
        var rows = new List<(string, string)>
        {
            ("profile", path),
            ("fingerprint", p.Fingerprint),
            ("schema", p.SchemaVersion.ToString(CultureInfo.InvariantCulture)),
            ("created", p.CreatedUtc.ToString("u", CultureInfo.InvariantCulture) + (p.Quick ? " (quick tune)" : " (full tune)")),
            ("tool", p.ToolVersion),
            ("cpu", $"{h.Cpu.Model} ({h.Cpu.Vendor}, {h.Cpu.Architecture}), {Show(h.Cpu.PhysicalCores)} cores / {h.Cpu.LogicalCores} threads, {Show(h.Cpu.NumaNodes)} NUMA node(s)"),
            ("instruction sets", string.Join(' ', h.Cpu.InstructionSets)),
            ("caches", string.Join(", ", h.Cpu.Caches.Select(c => $"L{c.Level} {c.Type} {Size(c.SizeBytes)}"))),
            ("memory", $"{Size(h.Memory.InstalledBytes)} installed, {Size(h.Memory.AvailableBytes)} available at tune time, THP {h.Memory.TransparentHugePages}, swap {Size(h.Memory.SwapTotalBytes)}"),
            ("disk", $"{h.Disk.Path} on {h.Disk.Device} ({h.Disk.Kind}, {h.Disk.Model}, {h.Disk.FileSystem})"),
            ("gpus", (h.Gpus.Length == 0 ? "none found" : string.Join("; ", h.Gpus.Select(g =>
                $"{g.Name} [{g.VendorId}:{g.DeviceId}] {(g.Integrated is bool i ? i ? "integrated" : "discrete" : "?")}, {Size(g.MemoryBytes)}, "
                + $"{Show(g.ComputeUnits)} compute units, runtime {g.Runtime}" + (g.Hint.Length > 0 ? $" ({g.Hint})" : ""))))
                + $" (GPU runtimes: {h.AcceleratorProbe})"),
            ("os", $"{h.Os.Description}, kernel {h.Os.Kernel}, {h.Os.Runtime}"),
        };
        Aligned(w, rows);

        w.WriteLine();
        w.WriteLine("memory read bandwidth");
        foreach (var b in p.Measurements.MemoryRead) w.WriteLine(F($"  {b.Threads,3} threads {b.GBps,9:F2} GB/s"));

        if (p.Measurements.MatVec.Length > 0)
        {
            w.WriteLine();
            w.WriteLine(F($"matvec (weights {p.Measurements.MatVec[0].Columns} columns)").PadRight(38) + "type      path       threads      GB/s    GFLOP/s");
            foreach (var v in p.Measurements.MatVec)
                w.WriteLine(F($"{"",38}{v.WeightType,-10}{v.KernelPath,-11}{v.Threads,7}{v.GBps,10:F2}{v.Gflops,11:F2}"));
        }

        if (p.Measurements.MatMul.Length > 0)
        {
            var first = p.Measurements.MatMul[0];
            w.WriteLine();
            w.WriteLine(F($"matmul ({first.Tokens} tokens × {first.Columns} columns)").PadRight(38) + "type      path       threads      GB/s    GFLOP/s");
            foreach (var v in p.Measurements.MatMul)
                w.WriteLine(F($"{"",38}{v.WeightType,-10}{v.KernelPath,-11}{v.Threads,7}{v.GBps,10:F2}{v.Gflops,11:F2}"));
        }

        foreach (var g in p.Measurements.Gpus)
        {
            w.WriteLine();
            w.WriteLine(F($"gpu {g.Device} ({Size(g.MemoryBytes)}): host-to-device {g.HostToDeviceGBps:F2} GB/s ({Size(g.TransferBytes)} uploads)"));
            w.WriteLine("  product   type       tokens      GB/s    GFLOP/s");
            foreach (var v in g.MatVec.Concat(g.MatMul))
                w.WriteLine(F($"  {(v.Tokens == 1 ? "matvec" : "matmul"),-10}{v.WeightType,-11}{v.Tokens,6}{v.GBps,10:F2}{v.Gflops,11:F2}"));
        }

        if (p.Measurements.Disk is { } d)
        {
            w.WriteLine();
            w.WriteLine(F($"disk reads on {d.Path} ({Size(d.FileBytes)} scratch file, {(d.DirectIo ? "direct I/O" : "buffered: O_DIRECT refused")})"));
            w.WriteLine("  block      queue      GB/s");
            foreach (var point in d.Direct) w.WriteLine(F($"  {Size(point.BlockBytes),-10}{point.QueueDepth,6}{point.GBps,10:F3}"));
            w.WriteLine(F($"  sequential buffered, cold: {Show(d.BufferedColdGBps)} GB/s; from the page cache: {Show(d.PageCacheGBps)} GB/s"));
        }

        var s = p.Settings;
        w.WriteLine();
        w.WriteLine(F($"settings: threads {s.Threads}, kernel path {s.KernelPath}, I/O {Size(s.IoBlockBytes)} blocks × {s.IoQueueDepth} in flight, direct I/O {(s.DirectIo ? "on" : "off")}"));
        w.WriteLine(F($"measured in {p.Measurements.WallSeconds:F1} s"));
        foreach (string note in p.Notes) w.WriteLine("note: " + note);
    }

    private static void Aligned(TextWriter w, List<(string Label, string Value)> rows)
    {
        int width = rows.Max(r => r.Label.Length) + 2;
        foreach (var (label, value) in rows) w.WriteLine(label.PadRight(width) + value);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Show(int? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "?";

    private static string Show(double? x) => x is double v ? v.ToString("F2", CultureInfo.InvariantCulture) : "?";

    public static string Size(long? bytes)
    {
        if (bytes is not long b) return "?";
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = b;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? F($"{b} B") : value == Math.Floor(value) ? F($"{value:F0} {units[unit]}") : F($"{value:F1} {units[unit]}");
    }
}
