namespace HybridEngine.Runtime;

/// <summary>Shape checks of <see cref="IComputeDevice.ExpertProduct"/>, shared by every device.</summary>
public static class ExpertShape
{
    /// <summary>gate, up: [ff, hidden]; down: [out, ff]; x ≥ tokens·hidden values; y ≥ tokens·out.</summary>
    public static void Check(IDeviceWeights gate, IDeviceWeights up, IDeviceWeights down, int xLength, int tokens, int yLength)
    {
        if (tokens < 0) throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens");
        if (gate.Rows != up.Rows || gate.RowLength != up.RowLength)
            throw new ArgumentException($"gate [{gate.Rows}, {gate.RowLength}] and up [{up.Rows}, {up.RowLength}] differ in shape", nameof(up));
        if (down.RowLength != gate.Rows)
            throw new ArgumentException($"down rows of {down.RowLength} values do not take the {gate.Rows}-wide hidden layer", nameof(down));
        if (xLength < (long)tokens * gate.RowLength)
            throw new ArgumentException($"{xLength} input values for {tokens} tokens of {gate.RowLength}", "x");
        if (yLength < (long)tokens * down.Rows)
            throw new ArgumentException($"{yLength} output values for {tokens} tokens of {down.Rows}", "y");
    }
}
