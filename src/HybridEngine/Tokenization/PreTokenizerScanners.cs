namespace HybridEngine.Tokenization;

/// <summary>
/// Hand-written splitters for the two most common pre-tokenizer regexes, as llama.cpp uses instead of a regex
/// engine. Each walks codepoints once and cuts exactly where the regex's leftmost-first alternation would.
/// Positions past the piece read as "no codepoint" (no class, not whitespace), which makes <c>(?!\S)</c> succeed at
/// the piece end.
/// </summary>
internal static class PreTokenizerScanners
{
    /// <summary>GPT-2: <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.</summary>
    public static List<Range> Gpt2(ReadOnlySpan<int> cps, List<Range> pieces)
    {
        var result = new List<Range>(pieces.Count * 4);
        foreach (var piece in pieces)
        {
            var (start, length) = piece.GetOffsetAndLength(cps.Length);
            var s = new Scan(cps, start, start + length, result);
            int pos = start;
            while (pos < s.End)
            {
                int c = cps[pos];
                if (c == '\'' && pos + 1 < s.End)
                {
                    int n1 = cps[pos + 1];
                    if (n1 is 's' or 't' or 'm' or 'd') { pos = s.Cut(pos + 2); continue; }
                    if (pos + 2 < s.End)
                    {
                        int n2 = cps[pos + 2];
                        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) { pos = s.Cut(pos + 3); continue; }
                    }
                }
                int first = c == ' ' ? pos + 1 : pos; // the optional leading space
                if (s.IsLetter(first)) { pos = first; while (s.IsLetter(pos)) pos++; s.Cut(pos); continue; }
                if (s.IsNumber(first)) { pos = first; while (s.IsNumber(pos)) pos++; s.Cut(pos); continue; }
                if (s.IsOther(first)) { pos = first; while (s.IsOther(pos)) pos++; s.Cut(pos); continue; }
                pos = s.Whitespace(pos, allowNewlineRun: false);
            }
        }
        return result;
    }

    /// <summary>
    /// Llama 3: <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.
    /// </summary>
    public static List<Range> Llama3(ReadOnlySpan<int> cps, List<Range> pieces)
    {
        var result = new List<Range>(pieces.Count * 4);
        foreach (var piece in pieces)
        {
            var (start, length) = piece.GetOffsetAndLength(cps.Length);
            var s = new Scan(cps, start, start + length, result);
            int pos = start;
            while (pos < s.End)
            {
                int c = cps[pos];
                if (c == '\'' && pos + 1 < s.End)
                {
                    int n1 = AsciiLower(cps[pos + 1]);
                    if (n1 is 's' or 't' or 'm' or 'd') { pos = s.Cut(pos + 2); continue; }
                    if (pos + 2 < s.End)
                    {
                        int n2 = AsciiLower(cps[pos + 2]);
                        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) { pos = s.Cut(pos + 3); continue; }
                    }
                }
                if (!(c == '\r' || c == '\n' || s.IsNumber(pos)) && (s.IsLetter(pos) || s.IsLetter(pos + 1)))
                {
                    pos++;
                    while (s.IsLetter(pos)) pos++;
                    s.Cut(pos);
                    continue;
                }
                if (s.IsNumber(pos))
                {
                    int run = pos;
                    while (s.IsNumber(pos))
                    {
                        pos++;
                        if (pos - run == 3) { s.Cut(pos); run = pos; }
                    }
                    s.Cut(pos);
                    continue;
                }
                int first = c == ' ' ? pos + 1 : pos;
                if (s.IsOther(first))
                {
                    pos = first;
                    while (s.IsOther(pos)) pos++;
                    while (s.At(pos) is '\r' or '\n') pos++;
                    s.Cut(pos);
                    continue;
                }
                pos = s.Whitespace(pos, allowNewlineRun: true);
            }
        }
        return result;
    }

    private static int AsciiLower(int c) => c is >= 'A' and <= 'Z' ? c + 32 : c;

    private ref struct Scan(ReadOnlySpan<int> cps, int start, int end, List<Range> output)
    {
        private readonly ReadOnlySpan<int> _cps = cps;
        private int _previous = start;
        public readonly int End = end;

        /// <summary>The codepoint at <paramref name="pos"/>, or -1 outside the piece.</summary>
        public readonly int At(int pos) => pos >= 0 && pos < End ? _cps[pos] : -1;

        public readonly bool IsLetter(int pos) => At(pos) is int c && c >= 0 && CodepointClasses.IsLetter(c);
        public readonly bool IsNumber(int pos) => At(pos) is int c && c >= 0 && CodepointClasses.IsNumber(c);
        public readonly bool IsSpace(int pos) => At(pos) is int c && c >= 0 && CodepointClasses.IsWhitespace(c);

        /// <summary><c>[^\s\p{L}\p{N}]</c>: any codepoint inside the piece that is not whitespace, letter or number.</summary>
        public readonly bool IsOther(int pos) => At(pos) >= 0 && !IsSpace(pos) && !IsLetter(pos) && !IsNumber(pos);

        /// <summary>Emits [previous cut, <paramref name="end"/>) if not empty; returns <paramref name="end"/>.</summary>
        public int Cut(int end)
        {
            if (end > _previous) output.Add(_previous..end);
            _previous = end;
            return end;
        }

        /// <summary>
        /// The whitespace alternatives at <paramref name="pos"/>: (Llama 3 only) <c>\s*[\r\n]+</c> up to the last newline
        /// of the run, else <c>\s+(?!\S)</c> leaving one space for the next word, else <c>\s+</c>; a codepoint none of the
        /// alternatives takes becomes a word on its own.
        /// </summary>
        public int Whitespace(int pos, bool allowNewlineRun)
        {
            int count = 0, lastNewlineEnd = 0;
            while (IsSpace(pos + count))
            {
                if (At(pos + count) is '\r' or '\n') lastNewlineEnd = pos + count + 1;
                count++;
            }
            if (allowNewlineRun && lastNewlineEnd > 0) return Cut(lastNewlineEnd);
            if (count > 1 && At(pos + count) >= 0) return Cut(pos + count - 1);
            if (count > 0) return Cut(pos + count);
            return Cut(pos + 1);
        }
    }
}
