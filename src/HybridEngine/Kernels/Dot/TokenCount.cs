namespace HybridEngine.Kernels.Dot;

/// <summary>
/// A compile-time token count for multi-token kernels: generic methods over these structs are compiled once per
/// count, so <c>if (T.Count &gt; 2)</c> costs nothing and a count's unused accumulators disappear.
/// </summary>
internal interface ITokenCount
{
    static abstract int Count { get; }
}

internal readonly struct Two : ITokenCount { public static int Count => 2; }

internal readonly struct Three : ITokenCount { public static int Count => 3; }

internal readonly struct Four : ITokenCount { public static int Count => 4; }

internal readonly struct One : ITokenCount { public static int Count => 1; }

internal readonly struct Five : ITokenCount { public static int Count => 5; }

internal readonly struct Six : ITokenCount { public static int Count => 6; }

internal readonly struct Seven : ITokenCount { public static int Count => 7; }

internal readonly struct Eight : ITokenCount { public static int Count => 8; }
