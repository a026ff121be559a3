using System.Text;
using HybridEngine.Quantization;

namespace HybridEngine.Gguf;

/// <summary>Everything the header of a GGUF file declares, validated against the file's size.</summary>
internal sealed record GgufLayout(
    uint Version,
    uint Alignment,
    long DataOffset,
    IReadOnlyList<string> Keys,
    IReadOnlyDictionary<string, GgufValue> Metadata,
    IReadOnlyDictionary<string, long> ValueOffsets,
    IReadOnlyList<GgufTensorInfo> Tensors);

/// <summary>
/// Reads and validates the header of a GGUF v2/v3 file (SPEC 1) from raw bytes. Every length and count read from
/// the file is compared with the bytes that remain before anything is allocated from it, so a hostile file can
/// cost at most time and memory proportional to its own size. Every failure is a <see cref="GgufFormatException"/>
/// naming the file, the byte offset of the field at fault and the key or tensor.
/// </summary>
internal sealed unsafe partial class GgufParser
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian u32
    public const uint DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";

    /// <summary>ggml's caps (GGUF_MAX_STRING_LENGTH, array elements): larger values are refused even when the file is large.</summary>
    private const long MaxStringBytes = 1L << 30;
    private const long MaxArrayLength = 1L << 30;

    /// <summary>Smallest KV record: u64 key length, a 1-byte key, u32 type, a 1-byte value.</summary>
    private const long MinKvBytes = 8 + 1 + 4 + 1;

    /// <summary>Smallest tensor info: u64 name length, a 1-byte name, u32 n_dims, one i64 dim, u32 type, u64 offset.</summary>
    private const long MinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte* _data;
    private readonly long _length;
    private readonly string _file;
    private long _pos;

    /// <summary>What is being read, for truncation messages ("the value of key 'x'").</summary>
    private string _subject = "the header";

    private GgufParser(byte* data, long length, string file)
    {
        _data = data;
        _length = length;
        _file = file;
    }

    private long Remaining => _length - _pos;

    public static GgufLayout Parse(byte* data, long length, string file)
    {
        // Values are read by reinterpreting little-endian file bytes in place.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF files are read only on little-endian machines");
        return new GgufParser(data, length, file).ParseAll();
    }

    private GgufLayout ParseAll()
    {
        uint version = ReadHeader(out long tensorCount, out long kvCount);
        var keys = new List<string>();
        var metadata = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        var valueOffsets = new Dictionary<string, long>(StringComparer.Ordinal);
        for (long i = 0; i < kvCount; i++)
        {
            long keyPos = _pos;
            _subject = $"the key of metadata entry {i}";
            string key = ReadString(strict: true);
            if (key.Length == 0) throw Error(keyPos, $"metadata entry {i} has an empty key");
            if (metadata.ContainsKey(key)) throw Error(keyPos, $"metadata key {Quote(key)} appears twice");
            _subject = $"the value type of key {Quote(key)}";
            long typePos = _pos;
            uint type = ReadU32();
            _subject = $"the value of key {Quote(key)}";
            metadata.Add(key, ReadValue(type, key, typePos));
            valueOffsets.Add(key, typePos);
            keys.Add(key);
        }
        uint alignment = ReadAlignment(metadata, valueOffsets);
        var records = new List<TensorRecord>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < tensorCount; i++)
        {
            var record = ReadTensorInfo(i);
            if (!names.Add(record.Info.Name)) throw Error(record.InfoPos, $"tensor name {Quote(record.Info.Name)} appears twice");
            records.Add(record);
        }
        long endOfInfos = _pos;
        long dataOffset = endOfInfos + (alignment - endOfInfos % alignment) % alignment;
        // A vocabulary-only file may end right after its infos; the padding only exists in front of tensor data.
        if (tensorCount > 0 && dataOffset > _length)
        {
            throw Error(_length, $"the file ends inside the padding before the data section, which starts at byte {dataOffset}");
        }
        ValidateTensorData(records, alignment, dataOffset);
        return new GgufLayout(version, alignment, dataOffset, keys, metadata, valueOffsets, records.Select(r => r.Info).ToArray());
    }

    private uint ReadHeader(out long tensorCount, out long kvCount)
    {
        if (_length < 4) throw Error(0, $"the file is {_length} bytes long, too short to hold the GGUF magic");
        uint magic = ReadU32();
        if (magic != Magic)
        {
            throw Error(0, $"the file does not start with the GGUF magic 'GGUF' (found bytes {magic & 0xFF:x2} {(magic >> 8) & 0xFF:x2} {(magic >> 16) & 0xFF:x2} {magic >> 24:x2}), so it is not a GGUF file");
        }
        _subject = "the version";
        uint version = ReadU32();
        if (version == 0) throw Error(4, "version 0 is not a GGUF version");
        if ((version & 0xFFFF) == 0)
        {
            throw Error(4, $"version {version} (0x{version:x8}) has zero low 16 bits, which means the file was written with the other byte order (big-endian); only little-endian files are read");
        }
        if (version == 1) throw Error(4, "GGUF version 1 is an obsolete layout (32-bit lengths and counts) that is no longer supported; convert the model again with a current llama.cpp");
        if (version > 3) throw Error(4, $"GGUF version {version} is newer than the supported versions 2 and 3");
        _subject = "the tensor count";
        tensorCount = ReadI64();
        _subject = "the metadata count";
        kvCount = ReadI64();
        if (tensorCount < 0) throw Error(8, $"the tensor count {tensorCount} is negative");
        if (kvCount < 0) throw Error(16, $"the metadata count {kvCount} is negative");
        if (tensorCount > Remaining / MinTensorInfoBytes)
        {
            throw Error(8, $"the tensor count {tensorCount} cannot fit in the {Remaining} bytes after the header");
        }
        if (kvCount > Remaining / MinKvBytes || kvCount * MinKvBytes + tensorCount * MinTensorInfoBytes > Remaining)
        {
            throw Error(16, $"the metadata count {kvCount} (with {tensorCount} tensors) cannot fit in the {Remaining} bytes after the header");
        }
        return version;
    }

    private uint ReadAlignment(Dictionary<string, GgufValue> metadata, Dictionary<string, long> valueOffsets)
    {
        if (!metadata.TryGetValue(AlignmentKey, out var value)) return DefaultAlignment;
        long pos = valueOffsets[AlignmentKey];
        if (value.Type != GgufValueType.UInt32)
        {
            throw Error(pos, $"key '{AlignmentKey}' has type {TypeName(value.Type)}, but it must be UINT32");
        }
        uint alignment = (uint)value.Value;
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw Error(pos, $"key '{AlignmentKey}' is {alignment}, but it must be a non-zero power of two");
        }
        return alignment;
    }

    private GgufValue ReadValue(uint type, string key, long typePos)
    {
        if (type > (uint)GgufValueType.Float64)
        {
            throw Error(typePos, $"key {Quote(key)} has unknown value type id {type} (valid ids are 0 to 12)");
        }
        var valueType = (GgufValueType)type;
        if (valueType != GgufValueType.Array) return new GgufValue(valueType, ReadScalar(valueType));

        long elementTypePos = _pos;
        uint elementId = ReadU32();
        if (elementId > (uint)GgufValueType.Float64)
        {
            throw Error(elementTypePos, $"array key {Quote(key)} has unknown element type id {elementId} (valid ids are 0 to 12)");
        }
        var elementType = (GgufValueType)elementId;
        if (elementType == GgufValueType.Array)
        {
            throw Error(elementTypePos, $"array key {Quote(key)} holds arrays, which ggml does not accept");
        }
        long countPos = _pos;
        ulong count = ReadU64();
        // Strings take at least their 8-byte length each, so the check bounds string arrays too.
        long elementBytes = elementType == GgufValueType.String ? 8 : FixedSize(elementType);
        if (count > MaxArrayLength)
        {
            throw Error(countPos, $"array key {Quote(key)} declares {count} elements, more than the limit of {MaxArrayLength}");
        }
        if ((long)count > Remaining / elementBytes)
        {
            throw Error(countPos, $"array key {Quote(key)} declares {count} {TypeName(elementType)} elements, which cannot fit in the remaining {Remaining} bytes");
        }
        return new GgufValue(GgufValueType.Array, ReadArray(elementType, (int)count), elementType);
    }

    private object ReadScalar(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => ReadFixed<byte>(),
        GgufValueType.Int8 => ReadFixed<sbyte>(),
        GgufValueType.UInt16 => ReadFixed<ushort>(),
        GgufValueType.Int16 => ReadFixed<short>(),
        GgufValueType.UInt32 => ReadFixed<uint>(),
        GgufValueType.Int32 => ReadFixed<int>(),
        GgufValueType.Float32 => ReadFixed<float>(),
        GgufValueType.Bool => ReadFixed<byte>() != 0, // ggml reads a bool as int8: any non-zero byte is true
        GgufValueType.String => ReadString(strict: false),
        GgufValueType.UInt64 => ReadFixed<ulong>(),
        GgufValueType.Int64 => ReadFixed<long>(),
        GgufValueType.Float64 => ReadFixed<double>(),
        _ => throw new InvalidOperationException($"{type} is not a scalar type"),
    };

    /// <summary><paramref name="count"/> has been checked against the remaining bytes by the caller.</summary>
    private Array ReadArray(GgufValueType elementType, int count)
    {
        switch (elementType)
        {
            case GgufValueType.UInt8: return ReadFixedArray<byte>(count);
            case GgufValueType.Int8: return ReadFixedArray<sbyte>(count);
            case GgufValueType.UInt16: return ReadFixedArray<ushort>(count);
            case GgufValueType.Int16: return ReadFixedArray<short>(count);
            case GgufValueType.UInt32: return ReadFixedArray<uint>(count);
            case GgufValueType.Int32: return ReadFixedArray<int>(count);
            case GgufValueType.Float32: return ReadFixedArray<float>(count);
            case GgufValueType.UInt64: return ReadFixedArray<ulong>(count);
            case GgufValueType.Int64: return ReadFixedArray<long>(count);
            case GgufValueType.Float64: return ReadFixedArray<double>(count);
            case GgufValueType.Bool:
                var bools = new bool[count];
                for (int i = 0; i < count; i++) bools[i] = _data[_pos + i] != 0;
                _pos += count;
                return bools;
            case GgufValueType.String:
                var strings = new string[count];
                for (int i = 0; i < count; i++) strings[i] = ReadString(strict: false);
                return strings;
            default: throw new InvalidOperationException($"{elementType} is not an element type");
        }
    }

    private static int FixedSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => throw new InvalidOperationException($"{type} has no fixed size"),
    };

    private T ReadFixed<T>() where T : unmanaged
    {
        Need(sizeof(T));
        T value = *(T*)(_data + _pos); // GGUF is little-endian, like every platform .NET runs this engine on
        _pos += sizeof(T);
        return value;
    }

    private T[] ReadFixedArray<T>(int count) where T : unmanaged
    {
        var array = new T[count];
        long bytes = (long)count * sizeof(T);
        Need(bytes);
        new ReadOnlySpan<T>(_data + _pos, count).CopyTo(array);
        _pos += bytes;
        return array;
    }

    private uint ReadU32() => ReadFixed<uint>();
    private ulong ReadU64() => ReadFixed<ulong>();
    private long ReadI64() => ReadFixed<long>();

    /// <summary>
    /// A u64 byte length then UTF-8 bytes. Keys and tensor names must be valid UTF-8 (<paramref name="strict"/>);
    /// values are decoded leniently because tokenizer pieces are data, not identifiers.
    /// </summary>
    private string ReadString(bool strict)
    {
        long lengthPos = _pos;
        ulong length = ReadU64();
        if (length > (ulong)Remaining)
        {
            throw Error(lengthPos, $"{_subject} has a string length of {length} bytes, but only {Remaining} bytes remain in the file");
        }
        if ((long)length > MaxStringBytes)
        {
            throw Error(lengthPos, $"{_subject} has a string length of {length} bytes, more than the limit of {MaxStringBytes}");
        }
        var bytes = new ReadOnlySpan<byte>(_data + _pos, (int)length);
        string text;
        try
        {
            text = strict ? StrictUtf8.GetString(bytes) : Encoding.UTF8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error(lengthPos + 8, $"{_subject} is not valid UTF-8");
        }
        _pos += (long)length;
        return text;
    }

    private void Need(long bytes)
    {
        if (bytes > Remaining)
        {
            throw Error(_pos, $"the file ends inside {_subject}: {bytes} bytes are needed but only {Remaining} remain");
        }
    }

    private GgufFormatException Error(long offset, string detail) =>
        new($"Invalid GGUF file '{_file}' at byte offset {offset}: {detail}.");

    internal static string TypeName(GgufValueType type) => type.ToString().ToUpperInvariant();

    /// <summary>A name from the file, quoted, with control characters escaped and length capped so a message stays one line.</summary>
    internal static string Quote(string name)
    {
        const int MaxShown = 96;
        var sb = new StringBuilder("'");
        foreach (char c in name.Length > MaxShown ? name[..MaxShown] : name)
        {
            if (char.IsControl(c)) sb.Append($"\\u{(int)c:x4}");
            else sb.Append(c);
        }
        if (name.Length > MaxShown) sb.Append("...");
        return sb.Append('\'').ToString();
    }
}
