namespace HybridEngine.Kernels;

/// <summary>
/// Top-k selection: the indices of the k largest values, in descending order of value; equal values keep
/// ascending index order (the lower index wins). k = <c>indices.Length</c>.
/// </summary>
/// <remarks>
/// Meant for routers and samplers where k is small (8 of 256 experts, 4 of 8 groups): an insertion into a sorted
/// window of k is O(n·k) worst case, O(n) typical, and allocates nothing. NaN values are never selected
/// ahead of numbers (they compare as smaller than everything).
/// </remarks>
public static class TopK
{
    /// <summary>Fills <paramref name="indices"/> (length k ≤ n) with the positions of the k largest values.</summary>
    public static void Select(ReadOnlySpan<float> values, Span<int> indices)
    {
        int k = indices.Length;
        if (k > values.Length) throw new ArgumentException($"k = {k} exceeds the {values.Length} values", nameof(indices));
        if (k == 0) return;
        int filled = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            // Skip values that cannot enter a full window: strictly greater is needed, since an earlier equal value wins.
            if (filled == k && !Greater(v, values[indices[k - 1]])) continue;
            int slot = filled < k ? filled++ : k - 1;
            while (slot > 0 && Greater(v, values[indices[slot - 1]]))
            {
                indices[slot] = indices[slot - 1];
                slot--;
            }
            indices[slot] = i;
        }
    }

    /// <summary>Same as <see cref="Select(ReadOnlySpan{float}, Span{int})"/> and also copies the selected values.</summary>
    public static void Select(ReadOnlySpan<float> values, Span<int> indices, Span<float> selected)
    {
        if (selected.Length < indices.Length) throw new ArgumentException("value buffer is shorter than k", nameof(selected));
        Select(values, indices);
        for (int j = 0; j < indices.Length; j++) selected[j] = values[indices[j]];
    }

    // NaN sorts below every number, so "greater" is false for NaN and true for any number over NaN.
    private static bool Greater(float a, float b) => a > b || (float.IsNaN(b) && !float.IsNaN(a));
}
