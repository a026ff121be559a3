using System.Text;
using HybridEngine.Gguf;

namespace HybridEngine.Tokenization;

/// <summary>
/// Text ↔ token ids for a GGUF vocabulary, token for token as llama.cpp does it. <see cref="FromGguf"/> picks the
/// algorithm from <c>tokenizer.ggml.model</c>: <see cref="SpmTokenizer"/> ("llama") or <see cref="BpeTokenizer"/> ("gpt2").
/// Instances are immutable and safe to share between threads.
/// </summary>
public abstract class Tokenizer
{
    private readonly byte[][] _pieces;

    /// <param name="normalPiece">The bytes a normal (not byte, not special) token's text stands for.</param>
    protected Tokenizer(Vocabulary vocabulary, Func<string, byte[]> normalPiece)
    {
        Vocabulary = vocabulary;
        _pieces = new byte[vocabulary.Count][];
        for (int id = 0; id < vocabulary.Count; id++) _pieces[id] = BuildPiece(id, normalPiece);
    }

    public Vocabulary Vocabulary { get; }

    /// <summary>The tokenizer for the file's <c>tokenizer.ggml.*</c> keys; an unsupported model or pre-tokenizer fails with a message listing the supported ones.</summary>
    public static Tokenizer FromGguf(GgufFile file)
    {
        var vocabulary = VocabularyLoader.Load(file);
        return vocabulary.Model switch
        {
            "llama" => new SpmTokenizer(vocabulary),
            "gpt2" => new BpeTokenizer(vocabulary, file.GetArray<string>("tokenizer.ggml.merges")),
            _ => throw new NotSupportedException($"tokenizer.ggml.model '{vocabulary.Model}' is not supported"),
        };
    }

    /// <summary>
    /// Token ids of <paramref name="text"/>. <paramref name="addSpecial"/> adds BOS/EOS where the vocabulary asks for
    /// them (<see cref="Vocabulary.AddBos"/>, <see cref="Vocabulary.AddEos"/>); <paramref name="parseSpecial"/> turns the
    /// text of control tokens (e.g. "&lt;|im_start|&gt;") into those tokens. User-defined tokens are always matched.
    /// </summary>
    public int[] Encode(string text, bool addSpecial, bool parseSpecial)
    {
        var output = new List<int>(text.Length / 3 + 2);
        if (addSpecial && Vocabulary.AddBos) output.Add(Vocabulary.Bos!.Value);
        bool afterSpecial = true; // the start of the text counts as "after a special token" (SentencePiece's space prefix)
        foreach (var fragment in SpecialTokenSplitter.Split(Vocabulary, text, parseSpecial))
        {
            if (fragment.IsToken)
            {
                output.Add(fragment.Token);
                afterSpecial = true;
            }
            else
            {
                EncodeText(text.Substring(fragment.Start, fragment.Length), afterSpecial, output);
                afterSpecial = false;
            }
        }
        if (addSpecial && Vocabulary.AddEos) output.Add(Vocabulary.Eos!.Value);
        return output.ToArray();
    }

    /// <summary>Tokenizes text that holds no special tokens; <paramref name="afterSpecial"/> is true at the start and after a special token.</summary>
    protected abstract void EncodeText(string text, bool afterSpecial, List<int> output);

    /// <summary>
    /// The bytes of one token. Control and unknown tokens give their text when <paramref name="renderSpecial"/> is
    /// set and nothing otherwise; a byte token may be part of a UTF-8 sequence, so pieces are bytes, not text.
    /// </summary>
    public ReadOnlySpan<byte> TokenToPieceBytes(int id, bool renderSpecial = true)
    {
        if ((uint)id >= (uint)_pieces.Length) throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is outside the vocabulary of {_pieces.Length} tokens");
        if (!renderSpecial && (Vocabulary.GetAttributes(id) & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0) return [];
        return _pieces[id];
    }

    /// <summary>One token's piece as text (a lone byte of a multi-byte character shows as U+FFFD).</summary>
    public string TokenToPiece(int id, bool renderSpecial = true) => Encoding.UTF8.GetString(TokenToPieceBytes(id, renderSpecial));

    /// <summary>
    /// Text of a token sequence, as llama.cpp's detokenize: the space SentencePiece put before the first word is
    /// dropped, control tokens are left out unless <paramref name="renderSpecial"/>, and <paramref name="removeSpecial"/>
    /// drops a leading BOS / trailing EOS that the vocabulary adds. Vocabularies with <see cref="Vocabulary.CleanSpaces"/>
    /// also remove the space before <c>. , ! ?</c> and some contractions.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool renderSpecial = false, bool removeSpecial = false) =>
        Encoding.UTF8.GetString(DecodeBytes(ids, renderSpecial, removeSpecial));

    public byte[] DecodeBytes(ReadOnlySpan<int> ids, bool renderSpecial = false, bool removeSpecial = false)
    {
        bool removeSpace = Vocabulary.AddSpacePrefix;
        if (removeSpecial && Vocabulary.AddBos && ids.Length > 0 && ids[0] == Vocabulary.Bos)
        {
            removeSpace = false; // llama.cpp keeps the space when the text started with BOS
            ids = ids[1..];
        }
        if (removeSpecial && Vocabulary.AddEos && ids.Length > 0 && ids[^1] == Vocabulary.Eos) ids = ids[..^1];
        var bytes = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            var piece = TokenToPieceBytes(id, renderSpecial);
            if (removeSpace && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
            removeSpace = false;
            foreach (byte b in piece) bytes.Add(b);
        }
        return Vocabulary.CleanSpaces ? SpaceCleanup.Apply(bytes.ToArray()) : bytes.ToArray();
    }

    private byte[] BuildPiece(int id, Func<string, byte[]> normalPiece)
    {
        var attributes = Vocabulary.GetAttributes(id);
        string text = Vocabulary.GetText(id);
        if ((attributes & (TokenAttributes.Control | TokenAttributes.Unknown | TokenAttributes.UserDefined)) != 0) return Encoding.UTF8.GetBytes(text);
        if ((attributes & TokenAttributes.Normal) != 0) return normalPiece(text);
        if ((attributes & TokenAttributes.Byte) != 0) return [ByteTokenValue(text)];
        return []; // unused and undefined tokens have no text
    }

    /// <summary>The byte of a "&lt;0xXX&gt;" token.</summary>
    protected static byte ByteTokenValue(string text) =>
        text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b)
            ? b
            : throw new GgufFormatException($"byte token '{text}' is not of the form <0xXX>");
}
