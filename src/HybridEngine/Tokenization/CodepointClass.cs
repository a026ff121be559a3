using System.Globalization;

namespace HybridEngine.Tokenization;

/// <summary>
/// The one Unicode category a codepoint falls in, as llama.cpp's pre-tokenizers see it: the general category
/// collapsed to its first letter (L, N, P, S, M, Z, C), with unassigned codepoints (Cn) as <see cref="Undefined"/>.
/// Whitespace is a separate property (<see cref="CodepointClasses.IsWhitespace"/>): a tab is Control and whitespace.
/// </summary>
internal enum CodepointClass : byte
{
    Undefined,
    Number,
    Letter,
    Separator,
    Mark,
    Punctuation,
    Symbol,
    Control,
}

/// <summary>Category and whitespace lookups on whole codepoints (not UTF-16 units), from .NET's Unicode tables.</summary>
internal static class CodepointClasses
{
    public static CodepointClass Of(int codepoint)
    {
        if ((uint)codepoint > 0x10FFFF) return CodepointClass.Undefined;
        return CharUnicodeInfo.GetUnicodeCategory(codepoint) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CodepointClass.Letter,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CodepointClass.Mark,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CodepointClass.Number,
            UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CodepointClass.Separator,
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse => CodepointClass.Control,
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
                or UnicodeCategory.OtherPunctuation => CodepointClass.Punctuation,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol => CodepointClass.Symbol,
            _ => CodepointClass.Undefined,
        };
    }

    /// <summary>The Unicode White_Space property (all such codepoints are in the BMP), which is what <c>\s</c> means to the pre-tokenizers.</summary>
    public static bool IsWhitespace(int codepoint) =>
        codepoint is >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    public static bool IsLetter(int codepoint) => Of(codepoint) == CodepointClass.Letter;
    public static bool IsNumber(int codepoint) => Of(codepoint) == CodepointClass.Number;

    /// <summary>Codepoints of <paramref name="text"/>; an unpaired surrogate becomes U+FFFD, as invalid UTF-8 does in llama.cpp.</summary>
    public static int[] ToCodepoints(ReadOnlySpan<char> text)
    {
        var result = new int[text.Length];
        int n = 0;
        for (int i = 0; i < text.Length;)
        {
            System.Text.Rune.DecodeFromUtf16(text[i..], out var rune, out int used);
            result[n++] = rune.Value;
            i += used;
        }
        return result.AsSpan(0, n).ToArray();
    }
}
