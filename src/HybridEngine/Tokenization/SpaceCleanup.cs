namespace HybridEngine.Tokenization;

/// <summary>
/// llama.cpp's version of Hugging Face's <c>clean_up_tokenization_spaces</c>, three passes over the decoded bytes:
/// drop the space before <c>? ! . ,</c>; turn <c>" ' "</c> into <c>"'"</c>; drop the space before <c>'s 'm 're 've</c>
/// (but not <c>'t 'd 'll</c>). The first byte is always kept. Lossy, so it is used only for decoding.
/// </summary>
internal static class SpaceCleanup
{
    public static byte[] Apply(byte[] text) => Contractions(LoneApostrophes(Punctuation(text)));

    private static byte[] Punctuation(byte[] a)
    {
        var result = new List<byte>(a.Length);
        for (int i = 0; i < a.Length; i++)
        {
            byte x = a[i];
            if (i > 0 && a[i - 1] == ' ' && x is (byte)'?' or (byte)'!' or (byte)'.' or (byte)',') result.RemoveAt(result.Count - 1);
            result.Add(x);
        }
        return result.ToArray();
    }

    private static byte[] LoneApostrophes(byte[] a)
    {
        var result = new List<byte>(a.Length);
        for (int i = 0; i < a.Length; i++)
        {
            byte x = a[i];
            if (i > 0 && x == '\'' && i + 1 < a.Length && a[i - 1] == ' ' && a[i + 1] == ' ')
            {
                result.RemoveAt(result.Count - 1); // the space before
                a[++i] = 0;                         // and skip the space after (it no longer counts as a space either)
            }
            result.Add(x);
        }
        return result.ToArray();
    }

    private static byte[] Contractions(byte[] a)
    {
        var result = new List<byte>(a.Length);
        for (int i = 0; i < a.Length; i++)
        {
            byte x = a[i];
            if (i > 0 && a[i - 1] == ' ' && x == '\'' && i + 1 < a.Length)
            {
                byte x1 = a[i + 1];
                bool drop = x1 is (byte)'s' or (byte)'m' ||
                    (x1 is not ((byte)'t' or (byte)'d') && i + 2 < a.Length && ((x1 == 'r' && a[i + 2] == 'e') || (x1 == 'v' && a[i + 2] == 'e')));
                if (drop) result.RemoveAt(result.Count - 1);
            }
            result.Add(x);
        }
        return result.ToArray();
    }
}
