namespace HybridEngine.Gguf;

/// <summary>GGUF metadata value types (SPEC 1.4).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One metadata value. Scalars hold the matching CLR type (byte, sbyte, ushort, short, uint, int, float, bool,
/// string, ulong, long, double); arrays hold a CLR array of the element type and set <see cref="ElementType"/>.
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public static GgufValue UInt32(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Int32(int v) => new(GgufValueType.Int32, v);
    public static GgufValue UInt64(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue Float32(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, v);
    public static GgufValue StringArray(string[] v) => new(GgufValueType.Array, v, GgufValueType.String);
    public static GgufValue Int32Array(int[] v) => new(GgufValueType.Array, v, GgufValueType.Int32);
    public static GgufValue Float32Array(float[] v) => new(GgufValueType.Array, v, GgufValueType.Float32);

    public bool IsArray => Type == GgufValueType.Array;
    public int ArrayLength => Value is System.Array a ? a.Length : 0;

    /// <summary>Any unsigned or signed integer scalar widened to long; throws for other types.</summary>
    public long AsInteger() => Value switch
    {
        byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v, ulong v => checked((long)v), long v => v,
        _ => throw new InvalidCastException($"metadata value of type {Type} is not an integer"),
    };

    public double AsDouble() => Value switch
    {
        float v => v, double v => v,
        _ => AsInteger(),
    };

    public string AsString() => Value as string ?? throw new InvalidCastException($"metadata value of type {Type} is not a string");
    public bool AsBool() => Value is bool b ? b : throw new InvalidCastException($"metadata value of type {Type} is not a bool");

    public override string ToString() => Value switch
    {
        string s => s,
        System.Array a => $"[{ElementType} × {a.Length}]",
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
