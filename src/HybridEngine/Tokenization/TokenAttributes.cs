namespace HybridEngine.Tokenization;

/// <summary>Values of <c>tokenizer.ggml.token_type</c> (SPEC 6.1).</summary>
public enum TokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>
/// What a token is, as llama.cpp tracks it: the GGUF token type plus adjustments made at load (a token whose text is a
/// known end-of-turn marker becomes Control; Phi-3's special tokens eat the whitespace after them).
/// </summary>
[Flags]
public enum TokenAttributes
{
    None = 0,
    Unknown = 1 << 0,
    Unused = 1 << 1,
    Normal = 1 << 2,
    Control = 1 << 3,
    UserDefined = 1 << 4,
    Byte = 1 << 5,
    /// <summary>When matched in text, whitespace before the token is dropped.</summary>
    LStrip = 1 << 7,
    /// <summary>When matched in text, whitespace after the token is dropped.</summary>
    RStrip = 1 << 8,
}

internal static class TokenAttributesExtensions
{
    public static TokenAttributes FromType(int type) => type switch
    {
        (int)TokenType.Normal => TokenAttributes.Normal,
        (int)TokenType.Unknown => TokenAttributes.Unknown,
        (int)TokenType.Control => TokenAttributes.Control,
        (int)TokenType.UserDefined => TokenAttributes.UserDefined,
        (int)TokenType.Unused => TokenAttributes.Unused,
        (int)TokenType.Byte => TokenAttributes.Byte,
        _ => TokenAttributes.None,
    };

    /// <summary>Tokens matched in the text before the tokenizer proper runs (control and unknown only when parsing specials).</summary>
    public static bool IsSpecial(this TokenAttributes a) =>
        (a & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0;
}
