using HybridEngine.Models;
using HybridEngine.Quantization;

namespace HybridEngine.Planning;

/// <summary>One tensor as placement sees it: its class, layer (−1 for model-level tensors), type and bytes.</summary>
/// <param name="Offset">Start of the tensor in the GGUF data section (add the file's data offset for a file offset).</param>
public sealed record InventoryTensor(string Name, TensorClass Class, int Layer, GgmlType Type, ulong Offset, long Bytes);

/// <summary>
/// Expert <c>e</c>'s part of one stacked expert tensor with ne2 = experts: a contiguous slab of ne1 rows, starting
/// e·ne1·rowBytes bytes into the tensor (SPEC 3.2: byte offset of expert e, row r = (e·ne1 + r)·nb1).
/// </summary>
/// <param name="TensorOffset">Start of the whole tensor in the data section.</param>
/// <param name="OffsetInTensor">e·ne1·rowBytes.</param>
public sealed record ExpertSlab(string TensorName, GgmlType Type, ulong TensorOffset, long OffsetInTensor, long Bytes)
{
    /// <summary>Start of the slab in the data section.</summary>
    public ulong DataOffset => TensorOffset + (ulong)OffsetInTensor;
}

/// <summary>
/// A routed expert as a placement unit: its gate, up and down slabs (and any per-expert bias) are read, cached and
/// placed together.
/// </summary>
public sealed record ExpertUnit(int Layer, int Expert, IReadOnlyList<ExpertSlab> Slabs)
{
    public long Bytes => Slabs.Sum(s => s.Bytes);
}

/// <summary>The routed experts of one MoE layer; every expert of a layer has the same size (one type per tensor).</summary>
public sealed record MoeLayerInventory(int Layer, long ExpertBytes, IReadOnlyList<ExpertUnit> Experts)
{
    public long Bytes => ExpertBytes * Experts.Count;
}
