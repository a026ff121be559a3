using System.Text;
using System.Text.RegularExpressions;

namespace HybridEngine.Tokenization;

/// <summary>
/// Runs one pre-tokenizer regex the way llama.cpp's generic path does (std::regex, ECMAScript), with .NET's Regex.
///
/// <para><b>Collapsed mode</b> (the pattern uses <c>\p{N} \p{L} \p{P} \p{M} \p{S}</c> or a letter subcategory): every
/// codepoint of the text becomes one character: ASCII stays as is, other whitespace becomes <c>\v</c>, other
/// codepoints become a marker per class (U+00D1 number, U+00D2 letter, U+00D3 punctuation, U+00D4 mark, U+00D5
/// symbol, U+00D0 anything else). Each <c>\p{X}</c> in the pattern becomes "the marker, or the ASCII members of X"
/// with llama.cpp's ASCII tables, in which <c>~</c> is neither punctuation nor symbol. The collapsed text has one
/// character per codepoint, so match positions are codepoint offsets.</para>
///
/// <para><b>Raw mode</b> (no categories): the pattern runs on the real characters, non-ASCII whitespace replaced by
/// <c>\v</c> (std::wregex's <c>\s</c> is ASCII-only). Character classes holding codepoints above U+FFFF are rewritten
/// into surrogate-pair alternatives, and <c>$</c> becomes <c>\z</c> (ECMAScript's <c>$</c> without multiline).</para>
/// </summary>
internal sealed class PreTokenizerRegex
{
    private static readonly (string Name, char Marker, string Ascii)[] Categories =
    [
        ("\\p{N}", '\u00D1', "0-9"),
        ("\\p{L}", '\u00D2', "A-Za-z"),
        ("\\p{P}", '\u00D3', "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"),
        ("\\p{M}", '\u00D4', ""),
        ("\\p{S}", '\u00D5', "\\$\\+<->\\^`\\|"),
        ("\\p{Lu}", '\u00D2', "A-Za-z"),
        ("\\p{Ll}", '\u00D2', "A-Za-z"),
        ("\\p{Lt}", '\u00D2', "A-Za-z"),
        ("\\p{Lm}", '\u00D2', "A-Za-z"),
        ("\\p{Lo}", '\u00D2', "A-Za-z"),
    ];

    private readonly Regex _regex;

    public PreTokenizerRegex(string pattern)
    {
        Pattern = pattern;
        Collapsed = Categories.Any(c => pattern.Contains(c.Name, StringComparison.Ordinal));
        string translated = Collapsed ? TranslateCollapsed(pattern) : TranslateRaw(pattern);
        _regex = new Regex(translated, RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    /// <summary>The pattern as llama.cpp writes it.</summary>
    public string Pattern { get; }

    public bool Collapsed { get; }

    /// <summary>One character per codepoint, as described in the class summary.</summary>
    public static string Collapse(ReadOnlySpan<int> codepoints) => string.Create(codepoints.Length, codepoints.ToArray(), static (chars, cps) =>
    {
        for (int i = 0; i < cps.Length; i++)
        {
            int c = cps[i];
            chars[i] = c < 128 ? (char)c
                : CodepointClasses.IsWhitespace(c) ? '\v'
                : CodepointClasses.Of(c) switch
                {
                    CodepointClass.Number => '\u00D1',
                    CodepointClass.Letter => '\u00D2',
                    CodepointClass.Punctuation => '\u00D3',
                    CodepointClass.Mark => '\u00D4',
                    CodepointClass.Symbol => '\u00D5',
                    _ => '\u00D0',
                };
        }
    });

    /// <summary>
    /// Splits each piece (codepoint ranges of <paramref name="codepoints"/>) into matches and the unmatched gaps
    /// between them, in order; <paramref name="collapsed"/> is <see cref="Collapse"/> of the text (built once per text).
    /// </summary>
    public List<Range> Split(ReadOnlySpan<int> codepoints, string? collapsed, List<Range> pieces)
    {
        var result = new List<Range>(pieces.Count * 2);
        foreach (var piece in pieces)
        {
            var (start, length) = piece.GetOffsetAndLength(codepoints.Length);
            if (Collapsed)
            {
                SplitText(collapsed!.Substring(start, length), start, null, result);
            }
            else
            {
                var (text, map) = RawText(codepoints.Slice(start, length));
                SplitText(text, start, map, result);
            }
        }
        return result;
    }

    private void SplitText(string text, int baseOffset, int[]? unitToCodepoint, List<Range> result)
    {
        int Cp(int unit) => baseOffset + (unitToCodepoint == null ? unit : unitToCodepoint[unit]);
        int last = 0;
        for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue; // none of the supported patterns can match empty; never emit empty words
            if (m.Index > last) result.Add(Cp(last)..Cp(m.Index));
            result.Add(Cp(m.Index)..Cp(m.Index + m.Length));
            last = m.Index + m.Length;
        }
        if (last < text.Length) result.Add(Cp(last)..Cp(text.Length));
    }

    /// <summary>UTF-16 text of the codepoints (non-ASCII whitespace as <c>\v</c>) and the codepoint index of every unit.</summary>
    private static (string Text, int[] Map) RawText(ReadOnlySpan<int> codepoints)
    {
        var sb = new StringBuilder(codepoints.Length);
        var map = new List<int>(codepoints.Length + 1);
        for (int i = 0; i < codepoints.Length; i++)
        {
            int c = codepoints[i];
            if (c > 0x7F && CodepointClasses.IsWhitespace(c)) c = '\v';
            int before = sb.Length;
            Tokenization.PreTokenizer.AppendCodepoint(sb, c);
            for (int u = before; u < sb.Length; u++) map.Add(i);
        }
        map.Add(codepoints.Length);
        return (sb.ToString(), map.ToArray());
    }

    private static string TranslateCollapsed(string pattern)
    {
        var sb = new StringBuilder(pattern.Length * 2);
        bool inside = false;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            // llama.cpp's bracket tracking: a '[' or ']' not preceded by a backslash opens or closes a class.
            if (c == '[' && (i == 0 || pattern[i - 1] != '\\'))
            {
                sb.Append('[');
                inside = true;
                continue;
            }
            if (inside && c == ']' && pattern[i - 1] != '\\')
            {
                sb.Append(']');
                inside = false;
                continue;
            }
            var category = Categories.FirstOrDefault(k => string.CompareOrdinal(pattern, i, k.Name, 0, k.Name.Length) == 0);
            if (category.Name != null)
            {
                string members = "\\u" + ((int)category.Marker).ToString("X4") + category.Ascii;
                sb.Append(inside ? members : "[" + members + "]");
                i += category.Name.Length - 1;
                continue;
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    private static string TranslateRaw(string pattern)
    {
        var sb = new StringBuilder(pattern.Length * 2);
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                sb.Append(c).Append(pattern[i + 1]);
                i++;
            }
            else if (c == '[')
            {
                int end = ClassEnd(pattern, i);
                sb.Append(TranslateClass(pattern.Substring(i, end - i + 1)));
                i = end;
            }
            else if (c == '$')
            {
                sb.Append("\\z");
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    private static int ClassEnd(string pattern, int open)
    {
        for (int i = open + 1; i < pattern.Length; i++)
        {
            if (pattern[i] == '\\') i++;
            else if (pattern[i] == ']' && i > open + 1) return i;
        }
        throw new ArgumentException($"unterminated character class in pre-tokenizer pattern '{pattern}'");
    }

    /// <summary>
    /// A class with supplementary-plane members becomes <c>(?:[BMP members]|\uD801[\uDC00-\uDC4F]|...)</c>;
    /// classes within the BMP are returned unchanged.
    /// </summary>
    private static string TranslateClass(string cls)
    {
        if (!cls.Any(char.IsSurrogate)) return cls;
        if (cls.StartsWith("[^", StringComparison.Ordinal))
        {
            throw new NotSupportedException($"negated character class with supplementary-plane codepoints: '{cls}'");
        }
        var bmp = new StringBuilder();
        var astral = new List<(int From, int To)>();
        var items = ClassItems(cls[1..^1]);
        for (int k = 0; k < items.Count; k++)
        {
            var (text, value) = items[k];
            bool isRange = k + 2 < items.Count && items[k + 1].Text == "-";
            int to = isRange ? items[k + 2].Value : value;
            if (value > 0xFFFF || to > 0xFFFF)
            {
                astral.Add((value, to));
            }
            else
            {
                bmp.Append(text);
                if (isRange) bmp.Append('-').Append(items[k + 2].Text);
            }
            if (isRange) k += 2;
        }
        var alternatives = new List<string>();
        if (bmp.Length > 0) alternatives.Add("[" + bmp + "]");
        foreach (var (from, to) in astral) alternatives.AddRange(SurrogateRanges(from, to));
        return "(?:" + string.Join("|", alternatives) + ")";
    }

    /// <summary>Class members as (pattern text, codepoint); an escape keeps its backslash in the text.</summary>
    private static List<(string Text, int Value)> ClassItems(string body)
    {
        var items = new List<(string, int)>();
        for (int i = 0; i < body.Length;)
        {
            if (body[i] == '\\')
            {
                items.Add((body.Substring(i, 2), body[i + 1]));
                i += 2;
            }
            else
            {
                var rune = System.Text.Rune.GetRuneAt(body, i);
                items.Add((rune.ToString(), rune.Value));
                i += rune.Utf16SequenceLength;
            }
        }
        return items;
    }

    private static IEnumerable<string> SurrogateRanges(int from, int to)
    {
        for (int high = 0xD800 + ((from - 0x10000) >> 10); high <= 0xD800 + ((to - 0x10000) >> 10); high++)
        {
            int lowFrom = high == 0xD800 + ((from - 0x10000) >> 10) ? 0xDC00 + ((from - 0x10000) & 0x3FF) : 0xDC00;
            int lowTo = high == 0xD800 + ((to - 0x10000) >> 10) ? 0xDC00 + ((to - 0x10000) & 0x3FF) : 0xDFFF;
            yield return $"\\u{high:X4}[\\u{lowFrom:X4}-\\u{lowTo:X4}]";
        }
    }
}
