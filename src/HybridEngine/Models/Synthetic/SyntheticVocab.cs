using System.Text;
using HybridEngine.Gguf;

namespace HybridEngine.Models.Synthetic;

/// <summary>
/// A small but valid tokenizer for synthetic models (SPEC 6): either GPT-2 byte-level BPE (all 256 byte symbols,
/// specials, and merges built so that common English words really merge) or a SentencePiece "llama" vocab
/// (unk/bos/eos, the 256 byte-fallback tokens &lt;0x00&gt;..&lt;0xFF&gt;, and scored pieces). Token strings are unique.
/// </summary>
public sealed record SyntheticVocab(
    string Model,
    string? Pre,
    string[] Tokens,
    int[] TokenTypes,
    float[]? Scores,
    string[]? Merges,
    uint Bos,
    uint Eos,
    uint? Unknown,
    bool AddBos)
{
    public const int Normal = 1, Unknown_ = 2, Control = 3, Unused = 5, Byte = 6;

    public int Count => Tokens.Length;

    /// <summary>Words whose pieces become merged tokens (and, with a leading space, one more merge).</summary>
    private static readonly string[] Words =
    [
        "the", "and", "of", "to", "in", "is", "that", "it", "for", "on", "with", "as", "was", "he", "be", "at",
        "by", "this", "hello", "world", "model", "expert", "token", "ing", "er", "on", "an", "re", "ed", "es",
        "you", "are", "not", "have", "from", "or", "one", "all", "there", "what", "about", "which", "their",
    ];

    /// <summary>A GPT-2 byte-level BPE vocab: <paramref name="specials"/> (control tokens) first, then bytes, then merges.</summary>
    public static SyntheticVocab Gpt2(string pre, string[] specials, uint bos, uint eos, bool addBos, int paddedSize = 0)
    {
        var tokens = new List<string>(specials);
        var types = new List<int>(specials.Select(_ => Control));
        var known = new HashSet<string>(tokens);
        var byteChars = ByteToUnicode();
        foreach (char c in byteChars) Add(c.ToString(), Normal);

        var merges = new List<string>();
        void Merge(string left, string right)
        {
            if (known.Contains(left + right)) return;
            merges.Add(left + " " + right);
            Add(left + right, Normal);
        }
        string space = byteChars[' '].ToString(), newline = byteChars['\n'].ToString();
        foreach (string word in Words)
        {
            for (int i = 2; i <= word.Length; i++) Merge(word[..(i - 1)], word[i - 1].ToString());
        }
        // " word" merges as (space, word) after the word exists, so it is reachable whatever the earlier ranks.
        foreach (string word in Words) Merge(space, word);
        Merge(space, space);
        Merge(newline, newline);
        Merge("1", "2");
        Merge("12", "3");

        Pad(tokens, types, paddedSize);
        return new SyntheticVocab("gpt2", pre, [.. tokens], [.. types], null, [.. merges], bos, eos, null, addBos);

        void Add(string token, int type)
        {
            if (!known.Add(token)) throw new InvalidOperationException($"duplicate token '{token}'");
            tokens.Add(token);
            types.Add(type);
        }
    }

    /// <summary>A SentencePiece ("llama") vocab: &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, byte tokens, then pieces scored by rank.</summary>
    public static SyntheticVocab SentencePiece(int paddedSize = 0)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { Unknown_, Control, Control };
        for (int b = 0; b < 256; b++) { tokens.Add($"<0x{b:X2}>"); types.Add(Byte); }
        var known = new HashSet<string>(tokens);
        void Add(string piece)
        {
            if (known.Add(piece)) { tokens.Add(piece); types.Add(Normal); }
        }
        const string marker = "\u2581"; // ▁ stands for a space in SentencePiece
        Add(marker);
        foreach (char c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-:;") Add(c.ToString());
        foreach (string word in Words)
        {
            for (int i = 2; i <= word.Length; i++) Add(word[..i]);
            for (int i = 1; i <= word.Length; i++) Add(marker + word[..i]);
        }
        // llama.cpp's SPM tokenizer merges the adjacent pair whose joined piece has the highest score first.
        var scores = new float[tokens.Count];
        for (int i = 3 + 256; i < tokens.Count; i++) scores[i] = -(i - 3 - 256);
        int count = tokens.Count;
        Pad(tokens, types, paddedSize);
        Array.Resize(ref scores, tokens.Count);
        for (int i = count; i < tokens.Count; i++) scores[i] = -1e4f;
        return new SyntheticVocab("llama", null, [.. tokens], [.. types], scores, null, 1, 2, 0, true);
    }

    /// <summary>Writes the tokenizer.ggml.* keys (SPEC 6.1) with llama.cpp's expected types.</summary>
    public void AddTo(GgufWriter writer)
    {
        writer.Add("tokenizer.ggml.model", GgufValue.String(Model));
        if (Pre != null) writer.Add("tokenizer.ggml.pre", GgufValue.String(Pre));
        writer.Add("tokenizer.ggml.tokens", GgufValue.StringArray(Tokens));
        writer.Add("tokenizer.ggml.token_type", GgufValue.Int32Array(TokenTypes));
        if (Scores != null) writer.Add("tokenizer.ggml.scores", GgufValue.Float32Array(Scores));
        if (Merges != null) writer.Add("tokenizer.ggml.merges", GgufValue.StringArray(Merges));
        writer.Add("tokenizer.ggml.bos_token_id", GgufValue.UInt32(Bos));
        writer.Add("tokenizer.ggml.eos_token_id", GgufValue.UInt32(Eos));
        if (Unknown is uint unk) writer.Add("tokenizer.ggml.unknown_token_id", GgufValue.UInt32(unk));
        writer.Add("tokenizer.ggml.add_bos_token", GgufValue.Bool(AddBos));
        writer.Add("tokenizer.ggml.add_eos_token", GgufValue.Bool(false));
    }

    /// <summary>
    /// GPT-2's byte → printable-character map: '!'..'~', '¡'..'¬' and '®'..'ÿ' map to themselves, the other 68
    /// bytes to U+0100 + n in byte order (so space is 'Ġ' U+0120 and newline 'Ċ' U+010A).
    /// </summary>
    public static char[] ByteToUnicode()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    /// <summary>Encodes text into GPT-2 byte-level symbols (for tests and tokenizers).</summary>
    public static string ToByteLevel(string text)
    {
        var map = ByteToUnicode();
        return new string(Encoding.UTF8.GetBytes(text).Select(b => map[b]).ToArray());
    }

    private static void Pad(List<string> tokens, List<int> types, int paddedSize)
    {
        for (int i = tokens.Count; i < paddedSize; i++) { tokens.Add($"[PAD{i}]"); types.Add(Unused); }
    }
}
