namespace HybridEngine.Tokenization;

/// <summary>
/// The token table of a GGUF file and the rules around it (SPEC 6): texts, scores, attributes, special ids and the
/// add-BOS/EOS flags, with llama.cpp's defaults applied. Built by <see cref="VocabularyLoader"/>; immutable.
/// </summary>
public sealed class Vocabulary
{
    private readonly string[] _tokens;
    private readonly float[] _scores;
    private readonly TokenAttributes[] _attributes;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idsBySpan;

    internal Vocabulary(string model, string[] tokens, float[] scores, TokenAttributes[] attributes, Dictionary<string, int> ids)
    {
        Model = model;
        _tokens = tokens;
        _scores = scores;
        _attributes = attributes;
        _ids = ids;
        _idsBySpan = ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary><c>tokenizer.ggml.model</c>: "llama" (SentencePiece) or "gpt2" (byte-level BPE).</summary>
    public string Model { get; }

    /// <summary><c>tokenizer.ggml.pre</c> as used ("default" when absent); null for SentencePiece.</summary>
    public string? PreTokenizer { get; internal init; }

    public int Count => _tokens.Length;

    public int? Bos { get; internal set; }
    public int? Eos { get; internal set; }
    public int? Eot { get; internal set; }
    public int? Eom { get; internal set; }
    public int? Unknown { get; internal set; }
    public int? Separator { get; internal set; }
    public int? Padding { get; internal set; }
    public int? Mask { get; internal set; }
    public int? FimPrefix { get; internal set; }
    public int? FimSuffix { get; internal set; }
    public int? FimMiddle { get; internal set; }
    public int? FimPad { get; internal set; }
    public int? FimRepo { get; internal set; }
    public int? FimSeparator { get; internal set; }

    /// <summary>Whether <see cref="Tokenizer.Encode(string, bool, bool)"/> with addSpecial puts BOS first.</summary>
    public bool AddBos { get; internal set; }
    public bool AddEos { get; internal set; }

    /// <summary>SentencePiece: a space is put before the text (and before text that follows a special token).</summary>
    public bool AddSpacePrefix { get; internal set; }

    /// <summary>Decoding removes the space before <c>. , ! ?</c> and before some English contractions (HF's clean_up_tokenization_spaces).</summary>
    public bool CleanSpaces { get; internal set; }

    /// <summary>BPE: a pre-tokenized word that is itself a token is emitted without running the merges (Llama 3).</summary>
    public bool IgnoreMerges { get; internal set; }

    /// <summary>Tokens that end generation: EOS, EOT, EOM and tokens whose text marks an end of turn.</summary>
    public IReadOnlySet<int> EndOfGeneration { get; internal set; } = new HashSet<int>();

    /// <summary>Control, user-defined and unknown tokens, longest text first: the order they are matched in text.</summary>
    public IReadOnlyList<int> SpecialTokens { get; internal set; } = [];

    /// <summary>Load-time notes (missing pre-tokenizer, special ids out of range) for the caller to show.</summary>
    public IReadOnlyList<string> Warnings { get; internal set; } = [];

    public string GetText(int id) => _tokens[id];
    public float GetScore(int id) => _scores[id];
    public TokenAttributes GetAttributes(int id) => _attributes[id];

    public bool TryGetId(string text, out int id) => _ids.TryGetValue(text, out id);
    public bool TryGetId(ReadOnlySpan<char> text, out int id) => _idsBySpan.TryGetValue(text, out id);

    public bool IsEndOfGeneration(int id) => EndOfGeneration.Contains(id);

    internal void SetAttributes(int id, TokenAttributes value) => _attributes[id] = value;
}
