namespace HybridEngine.Tokenization;

/// <summary>
/// Splits text into words before byte-level BPE, selected by <c>tokenizer.ggml.pre</c>. A pre-tokenizer is a list of
/// regexes applied in sequence: each one splits every piece the previous ones produced into its matches and the
/// unmatched gaps between them. The regex lists are llama.cpp's (llama-vocab.cpp); the GPT-2 and Llama 3 patterns run
/// on hand-written scanners as in llama.cpp, the others on .NET Regex (see <see cref="PreTokenizerRegex"/>).
/// </summary>
public sealed class PreTokenizer
{
    private const string Gpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    private const string Llama3Pattern = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private const string StarcoderFirst = "\\p{N}";

    private static readonly string[] DefaultPatterns = ["[\\p{P}\\$\\+<=>\\^~\\|]+", Gpt2Pattern, "\\p{N}+", "[0-9][0-9][0-9]"];
    private static readonly string[] Llama3Patterns = [Llama3Pattern];
    private static readonly string[] Gpt2Patterns = [Gpt2Pattern];
    private static readonly string[] StarcoderPatterns = [StarcoderFirst, Gpt2Pattern];
    private static readonly string[] FalconPatterns = ["[\\p{P}\\$\\+<=>\\^~\\|`]+", Gpt2Pattern, "[0-9][0-9][0-9]"];
    private static readonly string[] Qwen2Patterns =
        ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"];
    private static readonly string[] DeepSeekCoderPatterns = ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"];
    private static readonly string[] DeepSeekLlmPatterns =
    [
        "[\r\n]",
        "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
        "\\s+$",
        "[一-龥ࠀ-一가-퟿]+",
        "\\p{N}+",
    ];
    private static readonly string[] DeepSeekV3Patterns =
    [
        "\\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    ];
    private static readonly string[] Gpt4oPatterns =
        ["[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"];
    private static readonly string[] TekkenPatterns =
        ["[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"];

    /// <summary>Known <c>tokenizer.ggml.pre</c> values: regex list and the vocabulary flags llama.cpp sets with them.</summary>
    private static readonly Dictionary<string, PreTokenizerSettings> Known = BuildTable();

    private readonly Func<int[], string?, List<Range>, List<Range>>[] _steps;
    private readonly bool _needsCollapsed;

    private PreTokenizer(string name, PreTokenizerSettings settings)
    {
        Name = name;
        Settings = settings;
        _steps = new Func<int[], string?, List<Range>, List<Range>>[settings.Patterns.Count];
        for (int i = 0; i < _steps.Length; i++) _steps[i] = Step(settings.Patterns[i], ref _needsCollapsed);
    }

    /// <summary>The <c>tokenizer.ggml.pre</c> value this was made for ("default" when the key is absent).</summary>
    public string Name { get; }

    public PreTokenizerSettings Settings { get; }

    /// <summary>Every <c>tokenizer.ggml.pre</c> value that <see cref="ForName"/> accepts.</summary>
    public static IReadOnlyCollection<string> SupportedNames => Known.Keys;

    /// <summary>The pre-tokenizer for a <c>tokenizer.ggml.pre</c> value; null or absent means "default", as in llama.cpp.</summary>
    public static PreTokenizer ForName(string? pre)
    {
        string name = string.IsNullOrEmpty(pre) ? "default" : pre;
        return new PreTokenizer(name, SettingsFor(name));
    }

    /// <summary>The settings of a <c>tokenizer.ggml.pre</c> value, without building its regexes; unknown values are refused with the supported list.</summary>
    public static PreTokenizerSettings SettingsFor(string name) =>
        Known.TryGetValue(name, out var settings)
            ? settings
            : throw new NotSupportedException(
                $"tokenizer.ggml.pre '{name}' is not supported; supported pre-tokenizers: {string.Join(", ", Known.Keys.Order(StringComparer.Ordinal))}.");

    /// <summary>The words of <paramref name="text"/>, in order; concatenated they give back the text.</summary>
    public List<string> Split(string text)
    {
        int[] cps = CodepointClasses.ToCodepoints(text);
        if (cps.Length == 0) return [];
        string? collapsed = _needsCollapsed ? PreTokenizerRegex.Collapse(cps) : null;
        var pieces = new List<Range> { 0..cps.Length };
        foreach (var step in _steps) pieces = step(cps, collapsed, pieces);
        var words = new List<string>(pieces.Count);
        var sb = new System.Text.StringBuilder();
        foreach (var piece in pieces)
        {
            sb.Clear();
            var (start, length) = piece.GetOffsetAndLength(cps.Length);
            for (int i = start; i < start + length; i++) AppendCodepoint(sb, cps[i]);
            words.Add(sb.ToString());
        }
        return words;
    }

    internal static void AppendCodepoint(System.Text.StringBuilder sb, int codepoint)
    {
        if (codepoint < 0x10000) sb.Append((char)codepoint);
        else sb.Append(char.ConvertFromUtf32(codepoint));
    }

    private static Func<int[], string?, List<Range>, List<Range>> Step(string pattern, ref bool needsCollapsed)
    {
        if (pattern == Gpt2Pattern) return (cps, _, pieces) => PreTokenizerScanners.Gpt2(cps, pieces);
        if (pattern == Llama3Pattern) return (cps, _, pieces) => PreTokenizerScanners.Llama3(cps, pieces);
        var regex = new PreTokenizerRegex(pattern);
        needsCollapsed |= regex.Collapsed;
        return (cps, collapsed, pieces) => regex.Split(cps, collapsed, pieces);
    }

    private static Dictionary<string, PreTokenizerSettings> BuildTable()
    {
        var table = new Dictionary<string, PreTokenizerSettings>(StringComparer.Ordinal);
        void Add(string[] names, string[] patterns, bool cleanSpaces = true, bool ignoreMerges = false, bool? addBos = null, bool noDefaultBos = false)
        {
            foreach (var n in names) table[n] = new PreTokenizerSettings(patterns, cleanSpaces, ignoreMerges, addBos, noDefaultBos);
        }
        Add(["default"], DefaultPatterns);
        Add(["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral"], Llama3Patterns, ignoreMerges: true, addBos: true);
        Add(["dbrx", "smaug-bpe"], Llama3Patterns);
        Add(["deepseek-llm"], DeepSeekLlmPatterns, cleanSpaces: false);
        Add(["deepseek-coder"], DeepSeekCoderPatterns, cleanSpaces: false);
        Add(["deepseek-v3", "hunyuan-dense"], DeepSeekV3Patterns, cleanSpaces: false);
        Add(["falcon"], FalconPatterns);
        Add(["gpt-2", "phi-2", "mpt", "olmo", "jina-es", "jina-de", "exaone4"], Gpt2Patterns);
        Add(["starcoder", "refact", "codeshell", "exaone", "minerva-7b"], StarcoderPatterns);
        Add(["command-r", "smollm"], StarcoderPatterns, cleanSpaces: false);
        Add(["qwen2", "deepseek-r1-qwen", "hunyuan"], Qwen2Patterns, cleanSpaces: false);
        Add(["stablelm2", "megrez"], Qwen2Patterns);
        Add(["glm4", "chatglm-bpe"], Llama3Patterns, noDefaultBos: true);
        Add(["gpt-4o", "llama4"], Gpt4oPatterns, cleanSpaces: false);
        Add(["tekken"], TekkenPatterns, cleanSpaces: false, ignoreMerges: true, addBos: true);
        return table;
    }
}

/// <summary>
/// What a <c>tokenizer.ggml.pre</c> value sets besides its regexes (llama.cpp defaults, before the GGUF's own keys):
/// whether decoding applies the "clean up tokenization spaces" pass, whether a word that is already a token skips the
/// merges, and the default for adding BOS.
/// </summary>
public sealed record PreTokenizerSettings(IReadOnlyList<string> Patterns, bool CleanSpaces, bool IgnoreMerges, bool? AddBos, bool NoDefaultBos);
