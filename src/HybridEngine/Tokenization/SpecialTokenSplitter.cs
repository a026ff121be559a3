namespace HybridEngine.Tokenization;

/// <summary>A piece of the input: either a special token found in the text, or a run of text still to tokenize.</summary>
internal readonly record struct Fragment(int Token, int Start, int Length)
{
    public bool IsToken => Token >= 0;

    public static Fragment Text(int start, int length) => new(-1, start, length);
}

/// <summary>
/// Finds special tokens in text before the tokenizer proper runs, as llama.cpp's <c>tokenizer_st_partition</c>:
/// special tokens are tried longest first, each splitting every remaining text fragment at all its (leftmost,
/// non-overlapping) occurrences. User-defined tokens are always matched; control and unknown tokens only when
/// special parsing is on. A token with LStrip/RStrip also swallows the ASCII whitespace before/after it.
/// </summary>
internal static class SpecialTokenSplitter
{
    public static List<Fragment> Split(Vocabulary vocabulary, string text, bool parseSpecial)
    {
        var fragments = new List<Fragment>();
        if (text.Length == 0) return fragments;
        fragments.Add(Fragment.Text(0, text.Length));
        var next = new List<Fragment>();
        foreach (int id in vocabulary.SpecialTokens)
        {
            var attributes = vocabulary.GetAttributes(id);
            if (!parseSpecial && (attributes & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0) continue;
            string special = vocabulary.GetText(id);
            next.Clear();
            foreach (var fragment in fragments)
            {
                if (fragment.IsToken) next.Add(fragment);
                else SplitFragment(text, fragment, id, special, attributes, next);
            }
            (fragments, next) = (next, fragments);
        }
        return fragments;
    }

    private static void SplitFragment(string text, Fragment fragment, int id, string special, TokenAttributes attributes, List<Fragment> output)
    {
        int pos = fragment.Start, end = fragment.Start + fragment.Length;
        while (pos < end)
        {
            int match = text.IndexOf(special, pos, end - pos, StringComparison.Ordinal);
            if (match < 0) break;
            int leftEnd = match;
            if ((attributes & TokenAttributes.LStrip) != 0)
            {
                while (leftEnd > pos && IsAsciiSpace(text[leftEnd - 1])) leftEnd--;
            }
            if (leftEnd > pos) output.Add(Fragment.Text(pos, leftEnd - pos));
            output.Add(new Fragment(id, match, special.Length));
            pos = match + special.Length;
            if ((attributes & TokenAttributes.RStrip) != 0)
            {
                while (pos < end && IsAsciiSpace(text[pos])) pos++;
            }
        }
        if (pos < end) output.Add(Fragment.Text(pos, end - pos));
    }

    /// <summary>C's <c>isspace</c> in the "C" locale.</summary>
    private static bool IsAsciiSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
}
