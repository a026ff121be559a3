using HybridEngine.Gguf;
using HybridEngine.Runtime;

namespace HybridEngine.Models;

/// <summary>Reads an architecture's hyper-parameters (<c>{arch}.{key}</c>) with errors that name the key and the file.</summary>
public sealed class ModelMetadata(GgufFile file, string architecture)
{
    public string Architecture { get; } = architecture;

    public GgufFile File { get; } = file;

    private string FileName => Path.GetFileName(File.Path);

    public int Int(string key) => TryInt(key, out int v) ? v
        : throw new ModelLoadException($"key '{Architecture}.{key}' is missing from {FileName}.");

    public int Int(string key, int fallback) => TryInt(key, out int v) ? v : fallback;

    public float Float(string key) => TryFloat(key, out float v) ? v
        : throw new ModelLoadException($"key '{Architecture}.{key}' is missing from {FileName}.");

    public float Float(string key, float fallback) => TryFloat(key, out float v) ? v : fallback;

    public bool Bool(string key, bool fallback) => File.TryGetBool($"{Architecture}.{key}", out bool v) ? v : fallback;

    public string? String(string key) => File.TryGetString($"{Architecture}.{key}", out string? v) ? v : null;

    private bool TryInt(string key, out int value)
    {
        string full = $"{Architecture}.{key}";
        value = 0;
        if (!File.ContainsKey(full)) return false;
        if (!File.TryGetInteger(full, out long v))
            throw new ModelLoadException($"key '{full}' in {FileName} is not a single integer (per-layer arrays are not supported).");
        if (v < 0 || v > int.MaxValue) throw new ModelLoadException($"key '{full}' in {FileName} is out of range: {v}.");
        value = (int)v;
        return true;
    }

    private bool TryFloat(string key, out float value)
    {
        string full = $"{Architecture}.{key}";
        value = 0;
        if (!File.ContainsKey(full)) return false;
        if (File.TryGetFloat32(full, out value)) return true;
        if (File.TryGetFloat64(full, out double d)) { value = (float)d; return true; }
        throw new ModelLoadException($"key '{full}' in {FileName} is not a float.");
    }
}
