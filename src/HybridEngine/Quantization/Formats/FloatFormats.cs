using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace HybridEngine.Quantization.Formats;

/// <summary>F32, F16 (IEEE binary16) and BF16 (upper half of a float32), SPEC 1.12.</summary>
public static class FloatFormats
{
    public static void DequantizeF32(ReadOnlySpan<byte> blocks, Span<float> output) =>
        MemoryMarshal.Cast<byte, float>(blocks)[..output.Length].CopyTo(output);

    public static void QuantizeF32(ReadOnlySpan<float> input, Span<byte> blocks) =>
        MemoryMarshal.AsBytes(input).CopyTo(blocks);

    public static void DequantizeF16(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        var halves = MemoryMarshal.Cast<byte, Half>(blocks);
        System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(halves[..output.Length], output);
    }

    public static void QuantizeF16(ReadOnlySpan<float> input, Span<byte> blocks)
    {
        var halves = MemoryMarshal.Cast<byte, Half>(blocks);
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(input, halves[..input.Length]);
    }

    public static void DequantizeBF16(ReadOnlySpan<byte> blocks, Span<float> output)
    {
        for (int i = 0; i < output.Length; i++)
        {
            uint bits = BinaryPrimitives.ReadUInt16LittleEndian(blocks.Slice(2 * i, 2));
            output[i] = BitConverter.UInt32BitsToSingle(bits << 16);
        }
    }
}
