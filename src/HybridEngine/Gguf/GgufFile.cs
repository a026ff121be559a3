namespace HybridEngine.Gguf;

/// <summary>
/// A GGUF v2/v3 file (SPEC 1), memory-mapped read-only. The whole header is validated when the file is opened:
/// afterwards every tensor's data is known to lie inside the file, aligned, and not overlapping another tensor,
/// so tensor bytes can be handed out without further checks. Tensor data is never copied.
/// </summary>
public sealed unsafe partial class GgufFile : IDisposable
{
    private readonly GgufMemory _memory;
    private readonly IReadOnlyDictionary<string, long> _valueOffsets;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;

    private GgufFile(string path, GgufMemory memory)
    {
        _memory = memory;
        Path = path;
        var layout = GgufParser.Parse(memory.Pointer, memory.Length, path);
        Version = layout.Version;
        Alignment = layout.Alignment;
        DataOffset = layout.DataOffset;
        Keys = layout.Keys;
        Metadata = layout.Metadata;
        _valueOffsets = layout.ValueOffsets;
        Tensors = layout.Tensors;
        _tensorsByName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The path the file was opened from (or the name given to <see cref="Parse(byte[], string)"/>).</summary>
    public string Path { get; }

    /// <summary>2 or 3; both share one layout.</summary>
    public uint Version { get; }

    /// <summary><c>general.alignment</c>, or 32 when absent.</summary>
    public uint Alignment { get; }

    /// <summary>Absolute file offset of the data section: the end of the tensor infos rounded up to <see cref="Alignment"/>.</summary>
    public long DataOffset { get; }

    public long FileSize => _memory.Length;

    /// <summary>Metadata keys in file order.</summary>
    public IReadOnlyList<string> Keys { get; }

    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <summary>Tensor infos in file order. Shapes are in ggml order (Shape[0] is the row length).</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary><c>general.architecture</c>, or null when the file has none.</summary>
    public string? Architecture => TryGetString("general.architecture", out string? arch) ? arch : null;

    /// <summary>Sum of every tensor's data bytes (padding excluded).</summary>
    public long TotalTensorBytes => Tensors.Sum(t => t.ByteSize);

    /// <summary>Maps and validates <paramref name="path"/>. Throws <see cref="GgufFormatException"/> for any malformed content.</summary>
    public static GgufFile Open(string path)
    {
        var memory = GgufMemory.Map(path);
        try
        {
            return new GgufFile(path, memory);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>Validates a file held in memory; <paramref name="bytes"/> is pinned (not copied) until disposal.</summary>
    public static GgufFile Parse(byte[] bytes, string name = "<memory>")
    {
        var memory = GgufMemory.Pin(bytes);
        try
        {
            return new GgufFile(name, memory);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>Reads a whole stream into memory and validates it; meant for small files and tests.</summary>
    public static GgufFile Parse(Stream stream, string name = "<stream>")
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Parse(copy.ToArray(), name);
    }

    public GgufTensorInfo? FindTensor(string name) => _tensorsByName.GetValueOrDefault(name);

    /// <summary>The named tensor; a missing tensor is a format error naming it.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        FindTensor(name) ?? throw new GgufFormatException($"Invalid GGUF file '{Path}': tensor {GgufParser.Quote(name)} is missing.");

    /// <summary>Absolute file offset of the tensor's first byte.</summary>
    public long TensorFileOffset(GgufTensorInfo tensor) => DataOffset + (long)Own(tensor).Offset;

    /// <summary>Address of the tensor's first byte; valid until <see cref="Dispose"/>. Use for tensors over 2 GiB.</summary>
    public byte* GetTensorPointer(GgufTensorInfo tensor) => _memory.Pointer + TensorFileOffset(tensor);

    /// <summary>The tensor's bytes. Tensors of 2 GiB or more must be read in slices or through <see cref="GetTensorPointer"/>.</summary>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor)
    {
        long size = Own(tensor).ByteSize;
        if (size > int.MaxValue)
        {
            throw new InvalidOperationException($"tensor '{tensor.Name}' is {size} bytes, too large for one span; read it in slices");
        }
        return GetTensorData(tensor, 0, (int)size);
    }

    /// <summary>Bytes [<paramref name="start"/>, start + <paramref name="count"/>) of the tensor, e.g. one expert's slab.</summary>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor, long start, int count)
    {
        long size = Own(tensor).ByteSize;
        if (start < 0 || count < 0 || start > size || count > size - start)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"bytes [{start}, {start + count}) are outside tensor '{tensor.Name}' of {size} bytes");
        }
        return new ReadOnlySpan<byte>(GetTensorPointer(tensor) + start, count);
    }

    public void Dispose() => _memory.Dispose();

    /// <summary>Only infos read from this file are trusted: their bounds were checked at open.</summary>
    private GgufTensorInfo Own(GgufTensorInfo tensor)
    {
        if (_tensorsByName.TryGetValue(tensor.Name, out var own) &&
            (ReferenceEquals(own, tensor) || (own.Offset == tensor.Offset && own.Type == tensor.Type && own.Shape.SequenceEqual(tensor.Shape))))
        {
            return own;
        }
        throw new ArgumentException($"tensor '{tensor.Name}' does not belong to '{Path}'", nameof(tensor));
    }
}
