using System.Buffers.Binary;
using System.Diagnostics;
using HybridEngine.Gguf;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Gguf;

/// <summary>
/// Seeded random damage: whatever the mutation, the reader either succeeds (and then every tensor's bytes can be
/// read) or throws <see cref="GgufFormatException"/>. Any other exception, a hang or a crash fails the test.
/// </summary>
public class GgufFuzzTests(ITestOutputHelper output)
{
    /// <summary>Values that hit the edges of length, count and type checks when written over a field.</summary>
    private static readonly ulong[] Interesting =
    [
        0, 1, 2, 3, 4, 5, 9, 12, 13, 31, 32, 33, 63, 64, 255, 256, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
        0xFFFF_FFFF, 1UL << 31, 1UL << 32, 1UL << 62, long.MaxValue, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 31,
    ];

    [Fact]
    public void TwoThousandMutationsOfASmallFileOnlyEverFailWithAFormatError()
    {
        var layout = RawGguf.Small().Build();
        var (accepted, refused) = Fuzz(layout.Bytes, layout.DataOffset, iterations: 2000, seed: 20240611);
        output.WriteLine($"small file: {accepted} accepted, {refused} refused");
        Assert.True(refused > 1000, $"only {refused} of 2000 mutations were refused; the mutator is too gentle");
    }

    [Fact]
    public void MutationsOfTheRealStoriesHeaderOnlyEverFailWithAFormatError()
    {
        byte[] bytes = File.ReadAllBytes(TestPaths.Data("stories260K.gguf"));
        long dataOffset;
        using (var file = GgufFile.Parse(bytes, "stories260K.gguf")) dataOffset = file.DataOffset;
        var (_, refused) = Fuzz(bytes, dataOffset, iterations: 200, seed: 99);
        Assert.True(refused > 0);
    }

    /// <summary>Mutates a copy of <paramref name="original"/> <paramref name="iterations"/> times; mostly in the header.</summary>
    private (int Accepted, int Refused) Fuzz(byte[] original, long headerEnd, int iterations, int seed)
    {
        var rng = new Random(seed);
        var watch = Stopwatch.StartNew();
        int accepted = 0, refused = 0;
        for (int i = 0; i < iterations; i++)
        {
            byte[] bytes = Mutate(original, (int)headerEnd, rng);
            try
            {
                using var file = GgufFile.Parse(bytes, "fuzz.gguf");
                long sum = 0;
                foreach (var t in file.Tensors)
                {
                    var data = file.GetTensorData(t);
                    if (data.Length > 0) sum += data[0] + data[^1];
                }
                foreach (var value in file.Metadata.Values) _ = value.ToString();
                accepted++;
            }
            catch (GgufFormatException ex)
            {
                Assert.DoesNotContain('\n', ex.Message);
                refused++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"mutation {i} (seed {seed}) threw {ex.GetType().Name}: {ex.Message}");
            }
        }
        output.WriteLine($"{iterations} mutations in {watch.ElapsedMilliseconds} ms");
        return (accepted, refused);
    }

    private static byte[] Mutate(byte[] original, int headerEnd, Random rng)
    {
        byte[] bytes = (byte[])original.Clone();
        int Position() => Math.Min(bytes.Length - 1, rng.Next(10) < 8 ? rng.Next(Math.Max(1, headerEnd)) : rng.Next(bytes.Length));
        int edits = 1 + rng.Next(3);
        for (int e = 0; e < edits; e++)
        {
            int op = rng.Next(6);
            switch (op)
            {
                case 0: // flip one bit
                    int p = Position();
                    bytes[p] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // random byte
                    bytes[Position()] = (byte)rng.Next(256);
                    break;
                case 2: // an interesting u64 over a field
                case 3: // an interesting u32 over a field
                    ulong v = Interesting[rng.Next(Interesting.Length)];
                    int size = op == 2 ? 8 : 4;
                    int at = Math.Min(Position(), bytes.Length - size);
                    if (at < 0) break;
                    if (size == 8) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), v);
                    else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)v);
                    break;
                case 4: // truncate
                    return bytes[..rng.Next(bytes.Length)];
                default: // delete or duplicate a short run, shifting everything after it
                    int start = Position(), length = 1 + rng.Next(8);
                    length = Math.Min(length, bytes.Length - start);
                    bytes = rng.Next(2) == 0
                        ? [.. bytes[..start], .. bytes[(start + length)..]]
                        : [.. bytes[..(start + length)], .. bytes[start..]];
                    break;
            }
        }
        return bytes;
    }
}
