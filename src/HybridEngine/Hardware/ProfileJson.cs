using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridEngine.Hardware;

/// <summary>Reads, checks and writes profile JSON. Every failure is a <see cref="ProfileException"/> with one sentence naming the file.</summary>
public static class ProfileJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // A missing or null required field is an error, not a silent default.
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string Serialize(HardwareProfile profile) => JsonSerializer.Serialize(profile, Options);

    /// <summary>Parses and validates a profile; <paramref name="source"/> names it in messages.</summary>
    public static HardwareProfile Parse(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new ProfileException($"profile {source} is not valid JSON (truncated or corrupt: {FirstLine(e.Message)})", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ProfileException($"profile {source} is not a JSON object");
            if (!document.RootElement.TryGetProperty("schemaVersion", out var version) || !version.TryGetInt32(out int schema))
                throw new ProfileException($"profile {source} has no integer schemaVersion, so it is not a HybridEngine profile");
            if (schema != HardwareProfile.CurrentSchemaVersion)
            {
                string age = schema < HardwareProfile.CurrentSchemaVersion ? "an older" : "a newer";
                throw new ProfileException(
                    $"profile {source} has schema version {schema}, {age} format than the version {HardwareProfile.CurrentSchemaVersion} this build reads; run `hybrid tune` to make a new one");
            }
        }
        HardwareProfile? profile;
        try { profile = JsonSerializer.Deserialize<HardwareProfile>(json, Options); }
        catch (JsonException e) { throw new ProfileException($"profile {source} does not match schema version {HardwareProfile.CurrentSchemaVersion}: {FirstLine(e.Message)}", e); }
        if (profile is null) throw new ProfileException($"profile {source} is empty");
        string? problem = Validate(profile);
        return problem is null ? profile : throw new ProfileException($"profile {source} is invalid: {problem}");
    }

    public static HardwareProfile Load(string path)
    {
        string json;
        try { json = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProfileException($"profile {path} cannot be read: {e.Message}", e);
        }
        return Parse(json, path);
    }

    /// <summary>Writes the profile atomically: a reader sees the old file or the whole new one, never a part.</summary>
    public static void Save(HardwareProfile profile, string path)
    {
        string? problem = Validate(profile);
        if (problem is not null) throw new ProfileException($"refusing to write profile {path}: {problem}");
        string json = Serialize(profile);
        WriteAtomically(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(json);
            writer.WriteLine();
        });
    }

    /// <summary>
    /// Writes through <paramref name="write"/> to a temporary file in the target's folder (same file system, so the
    /// rename is atomic), flushes it to disk, then renames it over <paramref name="path"/>. If anything fails the
    /// temporary file is removed and the target is untouched.
    /// </summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>The first problem with a parsed profile as a phrase, or null when every field is in range.</summary>
    public static string? Validate(HardwareProfile p)
    {
        if (p.SchemaVersion != HardwareProfile.CurrentSchemaVersion) return $"schemaVersion {p.SchemaVersion} is not {HardwareProfile.CurrentSchemaVersion}";
        if (!HardwareFingerprint.IsWellFormed(p.Fingerprint)) return $"fingerprint '{p.Fingerprint}' is not 16 hex digits";
        string recomputed = HardwareFingerprint.Compute(p.Hardware);
        if (recomputed != p.Fingerprint) return $"fingerprint {p.Fingerprint} does not match its own hardware section ({recomputed}); the file was edited or damaged";
        if (string.IsNullOrWhiteSpace(p.ToolVersion)) return "toolVersion is empty";
        if (p.Hardware.Cpu.LogicalCores < 1) return "hardware.cpu.logicalCores must be positive";
        if (p.Hardware.Memory.InstalledBytes <= 0) return "hardware.memory.installedBytes must be positive";

        var m = p.Measurements;
        if (m.MemoryRead.IsDefaultOrEmpty) return "measurements.memoryRead is empty";
        foreach (var b in m.MemoryRead)
        {
            if (b.Threads < 1) return $"measurements.memoryRead has {b.Threads} threads";
            // Physical range: no CPU memory system streams faster than ~10 TB/s (HBM parts reach a few TB/s).
            if (!(b.GBps > 0 && b.GBps < 10_000)) return $"measurements.memoryRead at {b.Threads} threads is {Show(b.GBps)} GB/s, outside (0, 10000)";
        }
        foreach (var v in m.MatVec.IsDefault ? [] : m.MatVec)
        {
            if (v.Threads < 1 || v.Rows < 1 || v.Columns < 1) return $"measurements.matVec {v.WeightType} has a non-positive size";
            if (!(v.GBps > 0 && v.GBps < 10_000) || !(v.Gflops > 0)) return $"measurements.matVec {v.WeightType} at {v.Threads} threads is {Show(v.GBps)} GB/s, outside (0, 10000)";
        }
        foreach (var v in m.MatMul)
        {
            if (v.Threads < 1 || v.Rows < 1 || v.Columns < 1 || v.Tokens < 1) return $"measurements.matMul {v.WeightType} has a non-positive size";
            if (!(v.GBps > 0 && v.GBps < 10_000) || !(v.Gflops > 0 && v.Gflops < 10_000_000)) return $"measurements.matMul {v.WeightType} at {v.Threads} threads is {Show(v.Gflops)} GFLOP/s, outside (0, 10⁷)";
        }
        foreach (var g in m.Gpus)
        {
            if (string.IsNullOrWhiteSpace(g.Device)) return "measurements.gpus has an entry without a device";
            // PCIe 5 x16 moves ~64 GB/s and NVLink-C2C ~900 GB/s; nothing uploads at 10 TB/s.
            if (!(g.HostToDeviceGBps > 0 && g.HostToDeviceGBps < 10_000) || g.TransferBytes <= 0) return $"measurements.gpus {g.Device} hostToDeviceGbps {Show(g.HostToDeviceGBps)} is outside (0, 10000)";
            foreach (var v in (g.MatVec.IsDefault ? [] : g.MatVec).Concat(g.MatMul.IsDefault ? [] : g.MatMul))
            {
                if (v.Rows < 1 || v.Columns < 1 || v.Tokens < 1) return $"measurements.gpus {g.Device} {v.WeightType} has a non-positive size";
                // HBM3e peaks near 5 TB/s per device; weights resident in cache could read faster, never 100 TB/s.
                if (!(v.GBps > 0 && v.GBps < 100_000) || !(v.Gflops > 0 && v.Gflops < 10_000_000)) return $"measurements.gpus {g.Device} {v.WeightType} × {v.Tokens} is {Show(v.GBps)} GB/s, outside (0, 100000)";
            }
        }
        if (m.Disk is { } d)
        {
            if (d.FileBytes <= 0) return "measurements.disk.fileBytes must be positive";
            foreach (var point in d.Direct.IsDefault ? [] : d.Direct)
            {
                if (point.BlockBytes < 512 || point.QueueDepth < 1) return "measurements.disk.direct has a block under 512 bytes or a queue depth under 1";
                // Page-cache and RAM-disk reads stay under memory bandwidth; nothing reaches 1 TB/s.
                if (!(point.GBps > 0 && point.GBps < 1000)) return $"measurements.disk.direct {point.BlockBytes} B × {point.QueueDepth} is {Show(point.GBps)} GB/s, outside (0, 1000)";
            }
            if (d.BufferedColdGBps is double c && !(c > 0 && c < 1000)) return $"measurements.disk.bufferedColdGbps {Show(c)} is outside (0, 1000)";
            if (d.PageCacheGBps is double h && !(h > 0 && h < 1000)) return $"measurements.disk.pageCacheGbps {Show(h)} is outside (0, 1000)";
        }
        if (!(m.WallSeconds >= 0)) return "measurements.wallSeconds is negative";

        var s = p.Settings;
        if (s.Threads < 1 || s.Threads > 4096) return $"settings.threads {s.Threads} is outside 1..4096";
        if (s.KernelPath is not ("scalar" or "vector128" or "avx2" or "avx512")) return $"settings.kernelPath '{s.KernelPath}' is not scalar, vector128, avx2 or avx512";
        if (s.IoBlockBytes < 4096 || (s.IoBlockBytes & (s.IoBlockBytes - 1)) != 0) return $"settings.ioBlockBytes {s.IoBlockBytes} is not a power of two of at least 4096";
        if (s.IoQueueDepth < 1 || s.IoQueueDepth > 1024) return $"settings.ioQueueDepth {s.IoQueueDepth} is outside 1..1024";
        return null;
    }

    private static string Show(double x) => x.ToString("G4", CultureInfo.InvariantCulture);

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
