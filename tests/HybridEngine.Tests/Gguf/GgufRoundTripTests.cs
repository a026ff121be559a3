using HybridEngine.Gguf;
using HybridEngine.Quantization;
using Xunit;

namespace HybridEngine.Tests.Gguf;

/// <summary>Files written by <see cref="GgufWriter"/> read back with every value, shape, type and byte intact.</summary>
public class GgufRoundTripTests
{
    /// <summary>One value of every scalar type and an array of every element type, including empty and string arrays.</summary>
    private static readonly (string Key, GgufValue Value)[] AllValues =
    [
        ("t.u8", new(GgufValueType.UInt8, (byte)200)),
        ("t.i8", new(GgufValueType.Int8, (sbyte)-100)),
        ("t.u16", new(GgufValueType.UInt16, (ushort)60000)),
        ("t.i16", new(GgufValueType.Int16, (short)-30000)),
        ("t.u32", GgufValue.UInt32(4_000_000_000)),
        ("t.i32", GgufValue.Int32(-2_000_000_000)),
        ("t.f32", GgufValue.Float32(1.5e-6f)),
        ("t.bool", GgufValue.Bool(true)),
        ("t.bool_false", GgufValue.Bool(false)),
        ("t.str", GgufValue.String("héllo ✓ 世界")),
        ("t.empty_str", GgufValue.String("")),
        ("t.u64", GgufValue.UInt64((1UL << 63) + 5)),
        ("t.i64", new(GgufValueType.Int64, -(1L << 62))),
        ("t.f64", new(GgufValueType.Float64, Math.PI)),
        ("a.u8", new(GgufValueType.Array, new byte[] { 0, 1, 255 }, GgufValueType.UInt8)),
        ("a.i8", new(GgufValueType.Array, new sbyte[] { -128, 0, 127 }, GgufValueType.Int8)),
        ("a.u16", new(GgufValueType.Array, new ushort[] { 0, 65535 }, GgufValueType.UInt16)),
        ("a.i16", new(GgufValueType.Array, new short[] { -32768, 32767 }, GgufValueType.Int16)),
        ("a.u32", new(GgufValueType.Array, new uint[] { 1, uint.MaxValue }, GgufValueType.UInt32)),
        ("a.i32", GgufValue.Int32Array([-1, 0, int.MaxValue])),
        ("a.f32", GgufValue.Float32Array([0.25f, -3f, float.Epsilon])),
        ("a.bool", new(GgufValueType.Array, new[] { true, false, true }, GgufValueType.Bool)),
        ("a.str", GgufValue.StringArray(["", "a b", "▁the", "<0x0A>"])),
        ("a.u64", new(GgufValueType.Array, new[] { ulong.MaxValue, 0UL }, GgufValueType.UInt64)),
        ("a.i64", new(GgufValueType.Array, new[] { long.MinValue, 7L }, GgufValueType.Int64)),
        ("a.f64", new(GgufValueType.Array, new[] { 1e300, -0.0 }, GgufValueType.Float64)),
        ("a.empty", new(GgufValueType.Array, Array.Empty<int>(), GgufValueType.Int32)),
    ];

    /// <summary>Tensors of several types and ranks; sizes are computed here from SPEC 2.1 block sizes, not from the table.</summary>
    private static (string Name, GgmlType Type, long[] Shape, byte[] Data)[] SomeTensors(int seed)
    {
        var rng = new Random(seed);
        byte[] Bytes(long n)
        {
            var b = new byte[n];
            rng.NextBytes(b);
            return b;
        }
        return
        [
            ("token_embd.weight", GgmlType.F32, [32, 3], Bytes(32 * 3 * 4)),
            ("blk.0.attn_norm.weight", GgmlType.F16, [40], Bytes(40 * 2)),
            ("blk.0.ffn_up.weight", GgmlType.Q8_0, [64, 3], Bytes(3 * 2 * 34)),
            ("blk.0.ffn_down_exps.weight", GgmlType.Q4_K, [256, 2, 3], Bytes(6 * 144)),
            ("blk.0.ffn_gate_exps.weight", GgmlType.Q6_K, [512, 1], Bytes(2 * 210)),
            ("blk.0.attn_k_b.weight", GgmlType.BF16, [2, 3, 2, 2], Bytes(24 * 2)),
            ("empty.weight", GgmlType.F32, [0, 5], []),
            ("output.weight", GgmlType.Q4_0, [32, 1], Bytes(18)),
        ];
    }

    private static GgufWriter Writer(uint alignment, int seed)
    {
        var writer = new GgufWriter(alignment);
        writer.Add("general.architecture", GgufValue.String("llama"));
        foreach (var (key, value) in AllValues) writer.Add(key, value);
        foreach (var t in SomeTensors(seed)) writer.AddTensor(t.Name, t.Type, t.Shape, t.Data);
        return writer;
    }

    [Theory]
    [InlineData(32u)]
    [InlineData(1u)]
    [InlineData(8u)]
    [InlineData(64u)]
    [InlineData(4096u)]
    public void EveryValueTensorAndByteSurvives(uint alignment)
    {
        var ms = new MemoryStream();
        Writer(alignment, seed: 3).WriteTo(ms);
        using var file = GgufFile.Parse(ms.ToArray(), "roundtrip.gguf");

        Assert.Equal(3u, file.Version);
        Assert.Equal(alignment, file.Alignment);
        Assert.Equal(ms.Length, file.FileSize);
        Assert.Equal(0, file.DataOffset % alignment);
        Assert.Equal("llama", file.Architecture);

        var expectedKeys = new List<string> { "general.architecture" };
        if (alignment != 32) expectedKeys.Insert(0, "general.alignment");
        expectedKeys.AddRange(AllValues.Select(v => v.Key));
        Assert.Equal(expectedKeys, file.Keys);
        foreach (var (key, value) in AllValues) AssertSameValue(value, file.Metadata[key]);

        var tensors = SomeTensors(seed: 3);
        Assert.Equal(tensors.Select(t => t.Name), file.Tensors.Select(t => t.Name));
        foreach (var t in tensors)
        {
            var info = file.FindTensor(t.Name)!;
            Assert.Equal(t.Type, info.Type);
            Assert.Equal(t.Shape, info.Shape);
            Assert.Equal(t.Data.Length, info.ByteSize);
            Assert.Equal(0, file.TensorFileOffset(info) % alignment);
            Assert.True(t.Data.AsSpan().SequenceEqual(file.GetTensorData(info)), $"bytes of {t.Name}");
        }
        Assert.Equal(tensors.Sum(t => (long)t.Data.Length), file.TotalTensorBytes);
        Assert.Null(file.FindTensor("missing.weight"));
    }

    [Fact]
    public void OpeningFromDiskMapsTheSameBytes()
    {
        string dir = TestPaths.NewScratchDirectory();
        try
        {
            string path = Path.Combine(dir, "model.gguf");
            Writer(64, seed: 9).WriteTo(path);
            byte[] onDisk = File.ReadAllBytes(path);
            using var file = GgufFile.Open(path);
            Assert.Equal(path, file.Path);
            Assert.Equal(onDisk.Length, file.FileSize);
            foreach (var t in SomeTensors(seed: 9))
            {
                var info = file.GetTensor(t.Name);
                Assert.True(t.Data.AsSpan().SequenceEqual(file.GetTensorData(info)), $"bytes of {t.Name}");
                unsafe
                {
                    byte* p = file.GetTensorPointer(info);
                    if (t.Data.Length > 0) Assert.Equal(t.Data[^1], p[t.Data.Length - 1]);
                }
            }
            var slab = file.GetTensor("blk.0.ffn_down_exps.weight");
            Assert.True(SomeTensors(9)[3].Data.AsSpan(288, 288).SequenceEqual(file.GetTensorData(slab, 288, 288)));
            Assert.Throws<ArgumentOutOfRangeException>(() => file.GetTensorData(slab, 800, 100).Length);
            file.Dispose();
            Assert.Throws<ObjectDisposedException>(() => file.GetTensorData(slab).Length);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheRawTestBuilderAndTheWriterProduceIdenticalBytes()
    {
        // Two independent writers agreeing byte for byte checks the corpus base file as much as the writer.
        var raw = RawGguf.Small();
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.String("llama"));
        writer.Add("test.u8", new GgufValue(GgufValueType.UInt8, (byte)7));
        writer.Add("llama.block_count", GgufValue.UInt32(2));
        writer.Add("test.f32s", GgufValue.Float32Array([1, 2, 3]));
        writer.Add("tokenizer.ggml.tokens", GgufValue.StringArray(["a", "bc", ""]));
        foreach (var t in raw.Tensors) writer.AddTensor(t.Name, (GgmlType)t.Type, t.Dims, t.Data);
        var ms = new MemoryStream();
        writer.WriteTo(ms);
        Assert.Equal(raw.Build().Bytes, ms.ToArray());
    }

    [Fact]
    public void TypedGettersReturnValuesAndNameTheKeyOnMisuse()
    {
        var ms = new MemoryStream();
        Writer(32, seed: 1).WriteTo(ms);
        using var file = GgufFile.Parse(ms.ToArray(), "typed.gguf");

        Assert.Equal(4_000_000_000u, file.GetUInt32("t.u32"));
        Assert.Equal(-2_000_000_000, file.GetInt32("t.i32"));
        Assert.Equal((1UL << 63) + 5, file.GetUInt64("t.u64"));
        Assert.Equal(-(1L << 62), file.GetInt64("t.i64"));
        Assert.Equal(1.5e-6f, file.GetFloat32("t.f32"));
        Assert.Equal(Math.PI, file.GetFloat64("t.f64"));
        Assert.True(file.GetBool("t.bool"));
        Assert.Equal("héllo ✓ 世界", file.GetString("t.str"));
        Assert.Equal(-30000, file.GetInteger("t.i16"));
        Assert.Equal(["", "a b", "▁the", "<0x0A>"], file.GetArray<string>("a.str"));
        Assert.Equal([-1, 0, int.MaxValue], file.GetArray<int>("a.i32"));
        Assert.True(file.TryGetUInt32("t.u32", out uint u));
        Assert.Equal(4_000_000_000u, u);
        Assert.False(file.TryGetUInt32("no.such.key", out _));
        Assert.False(file.TryGetArray<float>("no.such.key", out _));

        AssertNames(() => file.GetUInt32("t.i32"), "'t.i32'", "INT32", "UINT32", "byte offset");
        AssertNames(() => file.TryGetString("t.u8", out _), "'t.u8'", "UINT8");
        AssertNames(() => file.GetArray<float>("a.i32"), "'a.i32'", "ARRAY of INT32");
        AssertNames(() => file.GetArray<float>("t.f32"), "'t.f32'", "FLOAT32");
        AssertNames(() => file.GetInteger("t.str"), "'t.str'", "STRING");
        AssertNames(() => file.GetInteger("t.u64"), "'t.u64'"); // above 2^63-1
        AssertNames(() => file.GetFloat32("no.such.key"), "'no.such.key'", "missing");
        AssertNames(() => file.GetTensor("no.such.tensor"), "'no.such.tensor'", "missing");
    }

    private static void AssertNames(Func<object> action, params string[] fragments)
    {
        var ex = Assert.Throws<GgufFormatException>(action);
        foreach (string fragment in fragments) Assert.Contains(fragment, ex.Message);
    }

    private static void AssertSameValue(GgufValue expected, GgufValue actual)
    {
        Assert.Equal(expected.Type, actual.Type);
        if (expected.IsArray)
        {
            Assert.Equal(expected.ElementType, actual.ElementType);
            Assert.Equal(((Array)expected.Value).Cast<object>(), ((Array)actual.Value).Cast<object>());
        }
        else
        {
            Assert.Equal(expected.Value, actual.Value);
        }
    }
}
