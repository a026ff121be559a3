using System.Text;
using HybridEngine.Quantization;

namespace HybridEngine.Gguf;

/// <summary>
/// Writes GGUF v3 files that llama.cpp loads: metadata in insertion order, tensor infos, then every tensor's
/// data in info order, each padded to the alignment (SPEC 1.7). Tensor data is produced by callbacks so that
/// multi-gigabyte files never sit in memory. The file appears under its name only when complete.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValue Value)> _metadata = [];
    private readonly List<(string Name, long[] Shape, GgmlType Type, Action<Stream> Write)> _tensors = [];
    private readonly HashSet<string> _keys = [];
    private readonly HashSet<string> _names = [];

    public GgufWriter(uint alignment = 32)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) throw new ArgumentException("alignment must be a power of two", nameof(alignment));
        Alignment = alignment;
        if (alignment != 32) Add("general.alignment", GgufValue.UInt32(alignment));
    }

    public uint Alignment { get; }

    public GgufWriter Add(string key, GgufValue value)
    {
        if (!_keys.Add(key)) throw new ArgumentException($"duplicate metadata key '{key}'");
        _metadata.Add((key, value));
        return this;
    }

    /// <summary>Adds a tensor whose bytes come from <paramref name="write"/>, which must write exactly the tensor's size.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, Action<Stream> write)
    {
        if (!_names.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'");
        if (Encoding.UTF8.GetByteCount(name) > 63) throw new ArgumentException($"tensor name '{name}' is longer than 63 bytes");
        var info = QuantTypes.Get(type);
        if (shape.Length is < 1 or > 4) throw new ArgumentException($"tensor '{name}' has {shape.Length} dimensions; 1 to 4 are allowed");
        if (shape[0] % info.BlockSize != 0) throw new ArgumentException($"tensor '{name}' row length {shape[0]} is not a multiple of {info.Name}'s block size {info.BlockSize}");
        _tensors.Add((name, shape, type, write));
        return this;
    }

    public GgufWriter AddTensor(string name, GgmlType type, long[] shape, byte[] data) =>
        AddTensor(name, type, shape, s => s.Write(data));

    public static long TensorBytes(GgmlType type, long[] shape) =>
        QuantTypes.Get(type).RowBytes(shape[0]) * shape.Skip(1).Aggregate(1L, (a, b) => a * b);

    /// <summary>Writes the file to a temporary name beside <paramref name="path"/>, then renames it into place.</summary>
    public void WriteTo(string path)
    {
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                WriteTo(stream);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            if (File.Exists(temp)) File.Delete(temp);
            throw;
        }
    }

    public void WriteTo(Stream stream)
    {
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(0x46554747u); // "GGUF"
        w.Write(3u);
        w.Write((long)_tensors.Count);
        w.Write((long)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value.Type, value.Value, value.ElementType);
        }
        ulong offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (long d in t.Shape) w.Write(d);
            w.Write((uint)t.Type);
            w.Write(offset);
            offset += (ulong)Align(TensorBytes(t.Type, t.Shape));
        }
        w.Flush();
        Pad(stream);
        foreach (var t in _tensors)
        {
            long start = stream.Position;
            t.Write(stream);
            long written = stream.Position - start;
            long expected = TensorBytes(t.Type, t.Shape);
            if (written != expected) throw new InvalidOperationException($"tensor '{t.Name}' wrote {written} bytes, expected {expected}");
            Pad(stream);
        }
    }

    private long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private void Pad(Stream stream)
    {
        long pad = Align(stream.Position) - stream.Position;
        for (long i = 0; i < pad; i++) stream.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value, GgufValueType elementType)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)value); break;
            case GgufValueType.Int8: w.Write((sbyte)value); break;
            case GgufValueType.UInt16: w.Write((ushort)value); break;
            case GgufValueType.Int16: w.Write((short)value); break;
            case GgufValueType.UInt32: w.Write((uint)value); break;
            case GgufValueType.Int32: w.Write((int)value); break;
            case GgufValueType.Float32: w.Write((float)value); break;
            case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt64: w.Write((ulong)value); break;
            case GgufValueType.Int64: w.Write((long)value); break;
            case GgufValueType.Float64: w.Write((double)value); break;
            case GgufValueType.Array:
                if (elementType == GgufValueType.Array) throw new ArgumentException("nested arrays are not written: llama.cpp rejects them");
                var array = (Array)value;
                w.Write((uint)elementType);
                w.Write((ulong)array.Length);
                foreach (object item in array) WriteValue(w, elementType, item, GgufValueType.UInt8);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "unknown GGUF value type");
        }
    }
}
