namespace HybridEngine.Gguf;

/// <summary>
/// Typed metadata access. GGUF types are matched exactly, as llama.cpp's loader does (SPEC 1.13): a UINT32 key
/// written as INT32 is an error naming the key, not a silent conversion. <c>TryGet*</c> returns false only when the
/// key is absent; a present key of the wrong type still throws, because that file is malformed.
/// </summary>
public sealed partial class GgufFile
{
    public bool ContainsKey(string key) => Metadata.ContainsKey(key);

    public GgufValue GetValue(string key) =>
        Metadata.TryGetValue(key, out var value) ? value : throw Missing(key);

    public uint GetUInt32(string key) => GetScalar<uint>(key, GgufValueType.UInt32);
    public bool TryGetUInt32(string key, out uint value) => TryGetScalar(key, GgufValueType.UInt32, out value);
    public int GetInt32(string key) => GetScalar<int>(key, GgufValueType.Int32);
    public bool TryGetInt32(string key, out int value) => TryGetScalar(key, GgufValueType.Int32, out value);
    public ulong GetUInt64(string key) => GetScalar<ulong>(key, GgufValueType.UInt64);
    public bool TryGetUInt64(string key, out ulong value) => TryGetScalar(key, GgufValueType.UInt64, out value);
    public long GetInt64(string key) => GetScalar<long>(key, GgufValueType.Int64);
    public bool TryGetInt64(string key, out long value) => TryGetScalar(key, GgufValueType.Int64, out value);
    public float GetFloat32(string key) => GetScalar<float>(key, GgufValueType.Float32);
    public bool TryGetFloat32(string key, out float value) => TryGetScalar(key, GgufValueType.Float32, out value);
    public double GetFloat64(string key) => GetScalar<double>(key, GgufValueType.Float64);
    public bool TryGetFloat64(string key, out double value) => TryGetScalar(key, GgufValueType.Float64, out value);
    public bool GetBool(string key) => GetScalar<bool>(key, GgufValueType.Bool);
    public bool TryGetBool(string key, out bool value) => TryGetScalar(key, GgufValueType.Bool, out value);
    public string GetString(string key) => GetScalar<string>(key, GgufValueType.String);

    public bool TryGetString(string key, out string? value)
    {
        bool found = TryGetScalar(key, GgufValueType.String, out string? text);
        value = text;
        return found;
    }

    /// <summary>Any integer scalar type, widened to long (for keys whose integer type varies between converters).</summary>
    public long GetInteger(string key) =>
        TryGetInteger(key, out long value) ? value : throw Missing(key);

    public bool TryGetInteger(string key, out long value)
    {
        value = 0;
        if (!Metadata.TryGetValue(key, out var v)) return false;
        if (v.Value is ulong u && u > long.MaxValue) throw WrongType(key, v, "an integer up to 2^63-1");
        if (v.IsArray || v.Value is bool or string or float or double) throw WrongType(key, v, "an integer type");
        value = v.AsInteger();
        return true;
    }

    /// <summary>
    /// An array whose element type maps to <typeparamref name="T"/> (byte, sbyte, ushort, short, uint, int, float,
    /// bool, string, ulong, long, double). The returned array is the parsed one: do not modify it.
    /// </summary>
    public T[] GetArray<T>(string key) =>
        TryGetArray<T>(key, out var array) ? array : throw Missing(key);

    public bool TryGetArray<T>(string key, out T[] array)
    {
        array = [];
        if (!Metadata.TryGetValue(key, out var v)) return false;
        if (!v.IsArray || v.Value is not T[] typed) throw WrongType(key, v, $"an array of {typeof(T).Name}");
        array = typed;
        return true;
    }

    private T GetScalar<T>(string key, GgufValueType type) =>
        TryGetScalar(key, type, out T value) ? value : throw Missing(key);

    private bool TryGetScalar<T>(string key, GgufValueType type, out T value)
    {
        value = default!;
        if (!Metadata.TryGetValue(key, out var v)) return false;
        if (v.Type != type) throw WrongType(key, v, GgufParser.TypeName(type));
        value = (T)v.Value;
        return true;
    }

    private GgufFormatException Missing(string key) =>
        new($"Invalid GGUF file '{Path}': the metadata key {GgufParser.Quote(key)} is missing.");

    private GgufFormatException WrongType(string key, GgufValue value, string expected)
    {
        string actual = value.IsArray
            ? $"ARRAY of {GgufParser.TypeName(value.ElementType)}"
            : GgufParser.TypeName(value.Type);
        return new($"Invalid GGUF file '{Path}' at byte offset {_valueOffsets[key]}: the metadata key {GgufParser.Quote(key)} has type {actual}, but {expected} is expected.");
    }
}
