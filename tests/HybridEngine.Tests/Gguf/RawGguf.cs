using System.Text;

namespace HybridEngine.Tests.Gguf;

/// <summary>One metadata record as raw bytes: any type id and any value bytes, so tests can write what no valid writer would.</summary>
internal sealed record RawKv(byte[] Key, uint Type, byte[] Value)
{
    public RawKv(string key, uint type, byte[] value) : this(Encoding.UTF8.GetBytes(key), type, value) { }
}

/// <summary>One tensor info plus its data. <see cref="Offset"/> null means "where a dense writer puts it".</summary>
internal sealed record RawTensor(string Name, long[] Dims, uint Type, byte[] Data)
{
    public uint? NDims { get; init; }
    public ulong? Offset { get; init; }
}

/// <summary>Where each field of a file built by <see cref="RawGguf"/> starts.</summary>
internal sealed class RawLayout
{
    public byte[] Bytes = [];
    public List<long> KvStart = [], KvTypePos = [], KvValuePos = [];
    public List<long> InfoStart = [], NDimsPos = [], DimsPos = [], TypePos = [], OffsetPos = [];
    public List<long> DataStart = [];
    public long EndOfInfos, DataOffset;

    /// <summary>Every section boundary in the header: after magic, version, counts, each KV and each tensor info.</summary>
    public IEnumerable<long> HeaderBoundaries =>
        new long[] { 0, 4, 8, 16, 24 }.Concat(KvStart).Concat(InfoStart).Append(EndOfInfos).Distinct().Order();
}

/// <summary>
/// A byte-level GGUF builder written from SPEC 1 independently of the engine's writer and reader, so tests can
/// build both valid files and every kind of damage, and know the offset of every field.
/// </summary>
internal sealed class RawGguf
{
    public uint Magic = 0x46554747;
    public uint Version = 3;
    public long? TensorCount, KvCount;

    /// <summary>Padding used for the data section; the file declares it only through a general.alignment KV.</summary>
    public uint Alignment = 32;

    public List<RawKv> Kvs = [];
    public List<RawTensor> Tensors = [];

    public RawLayout Build()
    {
        var layout = new RawLayout();
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(Magic);
        w.Write(Version);
        w.Write(TensorCount ?? Tensors.Count);
        w.Write(KvCount ?? Kvs.Count);
        foreach (var kv in Kvs)
        {
            layout.KvStart.Add(ms.Position);
            w.Write((ulong)kv.Key.Length);
            w.Write(kv.Key);
            layout.KvTypePos.Add(ms.Position);
            w.Write(kv.Type);
            layout.KvValuePos.Add(ms.Position);
            w.Write(kv.Value);
        }
        ulong dense = 0;
        foreach (var t in Tensors)
        {
            layout.InfoStart.Add(ms.Position);
            WriteString(w, t.Name);
            layout.NDimsPos.Add(ms.Position);
            w.Write(t.NDims ?? (uint)t.Dims.Length);
            layout.DimsPos.Add(ms.Position);
            foreach (long d in t.Dims) w.Write(d);
            layout.TypePos.Add(ms.Position);
            w.Write(t.Type);
            layout.OffsetPos.Add(ms.Position);
            w.Write(t.Offset ?? dense);
            dense += (ulong)Align(t.Data.Length);
        }
        layout.EndOfInfos = ms.Position;
        layout.DataOffset = Align(ms.Position);
        if (Tensors.Count > 0)
        {
            Pad(ms);
            foreach (var t in Tensors)
            {
                layout.DataStart.Add(ms.Position);
                w.Write(t.Data);
                Pad(ms);
            }
        }
        layout.Bytes = ms.ToArray();
        return layout;
    }

    private long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private void Pad(MemoryStream ms)
    {
        while (ms.Position % Alignment != 0) ms.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    // Value encoders (little-endian, SPEC 1.3/1.4).
    public static byte[] U8(byte v) => [v];
    public static byte[] U32(uint v) => BitConverter.GetBytes(v);
    public static byte[] U64(ulong v) => BitConverter.GetBytes(v);
    public static byte[] F32(float v) => BitConverter.GetBytes(v);

    public static byte[] Str(string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        return [.. U64((ulong)bytes.Length), .. bytes];
    }

    /// <summary>ARRAY payload: u32 element type, u64 count, then the packed elements.</summary>
    public static byte[] Array(uint elementType, ulong count, byte[] elements) => [.. U32(elementType), .. U64(count), .. elements];

    public const uint TypeUInt8 = 0, TypeUInt32 = 4, TypeFloat32 = 6, TypeString = 8, TypeArray = 9, TypeUInt64 = 10;
    public const uint GgmlF32 = 0, GgmlF16 = 1, GgmlQ8_0 = 8;

    /// <summary>
    /// The small valid file most damage tests start from: five KVs of several types and three tensors of three
    /// types (F32, Q8_0, F16), the second one not a multiple of the alignment so there is padding between tensors.
    /// </summary>
    public static RawGguf Small()
    {
        var rng = new Random(7);
        byte[] Data(int n)
        {
            var b = new byte[n];
            rng.NextBytes(b);
            return b;
        }
        return new RawGguf
        {
            Kvs =
            [
                new("general.architecture", TypeString, Str("llama")),
                new("test.u8", TypeUInt8, U8(7)),
                new("llama.block_count", TypeUInt32, U32(2)),
                new("test.f32s", TypeArray, Array(TypeFloat32, 3, [.. F32(1), .. F32(2), .. F32(3)])),
                new("tokenizer.ggml.tokens", TypeArray, Array(TypeString, 3, [.. Str("a"), .. Str("bc"), .. Str("")])),
            ],
            Tensors =
            [
                new("token_embd.weight", [32, 2], GgmlF32, Data(32 * 2 * 4)),
                new("blk.0.ffn_down.weight", [64, 2], GgmlQ8_0, Data(2 * 2 * 34)),
                new("output_norm.weight", [32], GgmlF16, Data(32 * 2)),
            ],
        };
    }
}
