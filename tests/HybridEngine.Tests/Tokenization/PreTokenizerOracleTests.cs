using System.Text;
using HybridEngine.Gguf;
using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// Every pre-tokenizer regex set, including those no shared vocabulary uses (deepseek-v3 above all), against llama.cpp:
/// the GPT-2 vocabulary is written again with another <c>tokenizer.ggml.pre</c>, and seeded random strings rich in
/// what the regexes distinguish (digit runs, CJK and kana, ASCII and Unicode punctuation, marks, whitespace runs,
/// contractions) must give the same ids from both. The ids depend on the words the regexes cut, so any difference in
/// a split shows up.
/// </summary>
public class PreTokenizerOracleTests : IClassFixture<PreTokenizerOracleTests.Gpt2Source>
{
    private const int Strings = 150;

    private static readonly string[] Palette =
    [
        "a", "Zebra", " the", "ing", "I", "'s", "'T", "'re", "'VE", "'m", "'ll", "'d", "'x", "'",
        "1", "12", "123", "1234", "12345678", " 7", "٣٤", "४", "½", "Ⅻ", "3.5", "1,000",
        " ", "  ", "    ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00A0", "\u3000", "\u2009",
        "!", "!!", "?", ".", "...", ",", ";", ":", "-", "--", "_", "(", ")", "[", "]", "{", "}", "<", ">", "/", "\\",
        "\"", "`", "~", "^", "|", "$", "+", "=", "@", "#", "%", "&", "*", "!a", ".b", "$x", "~y",
        "。", "，", "、", "！", "：", "“", "”", "‘", "’", "«", "»", "—", "…", "¿", "€", "∑", "©", "°",
        "我", "想在", "工作天", "龥", "ひらがな", "カタカナ", "ー", "한국어", "中文abc", "日本語テキスト",
        "é", "e\u0301", "ñ", "ü", "Ωμέγα", "Привет", "مرحبا", "नमस्ते", "ภาษาไทย", "ស្វាគមន៍", "ÄÖÜ", "ß",
        "🚀", "😁", "👍🏽", "❤️", "\U0001D400", "\U00010400",
    ];

    private readonly Gpt2Source _source;

    public PreTokenizerOracleTests(Gpt2Source source) => _source = source;

    /// <summary>One name per distinct regex set and flag combination.</summary>
    public static TheoryData<string> PreTokenizers => new(
        "default", "llama-bpe", "dbrx", "deepseek-llm", "deepseek-coder", "deepseek-v3", "falcon", "gpt-2", "starcoder",
        "command-r", "qwen2", "deepseek-r1-qwen", "stablelm2", "chatglm-bpe", "gpt-4o", "llama4", "tekken", "hunyuan-dense");

    [Theory]
    [MemberData(nameof(PreTokenizers))]
    public void RandomStringsSplitLikeLlamaCpp(string pre)
    {
        string path = _source.WriteWithPre(pre);
        Tokenizer ours;
        using (var file = GgufFile.Open(path)) ours = Tokenizer.FromGguf(file);
        using var reference = LlamaCppVocab.LoadUncached(path);
        var random = new Random(7 + pre.Length * 31);
        var failures = new StringBuilder();
        int failed = 0;
        for (int i = 0; i < Strings; i++)
        {
            var sb = new StringBuilder();
            int chunks = random.Next(1, 16);
            for (int c = 0; c < chunks; c++) sb.Append(Palette[random.Next(Palette.Length)]);
            string text = sb.ToString();
            foreach (bool addSpecial in new[] { false, true })
            {
                int[] expected = reference.NativeHandle.Tokenize(text, addSpecial, false, Encoding.UTF8).Select(t => (int)t).ToArray();
                int[] actual = ours.Encode(text, addSpecial, parseSpecial: false);
                if (expected.AsSpan().SequenceEqual(actual)) continue;
                if (++failed <= 5)
                {
                    failures.AppendLine($"  \"{VocabTestCases.Escape(text)}\" addSpecial={addSpecial}");
                    failures.AppendLine($"    llama.cpp [{string.Join(' ', expected)}]");
                    failures.AppendLine($"    ours      [{string.Join(' ', actual)}]");
                }
            }
        }
        Assert.True(failed == 0, $"pre '{pre}': {failed} of {Strings * 2} encodings differ from llama.cpp:\n{failures}");
    }

    /// <summary>The GPT-2 vocabulary's tokens and merges, rewritten once per pre-tokenizer into a scratch folder.</summary>
    public sealed class Gpt2Source : IDisposable
    {
        private readonly string _scratch = TestPaths.NewScratchDirectory();
        private readonly string[] _tokens, _merges;
        private readonly int[] _types;

        public Gpt2Source()
        {
            using var file = GgufFile.Open(VocabTestCases.Path("gpt-2"));
            _tokens = file.GetArray<string>("tokenizer.ggml.tokens");
            _types = file.GetArray<int>("tokenizer.ggml.token_type");
            _merges = file.GetArray<string>("tokenizer.ggml.merges");
        }

        public string WriteWithPre(string pre)
        {
            string path = Path.Combine(_scratch, $"gpt2-{pre}.gguf");
            new GgufWriter()
                .Add("general.architecture", GgufValue.String("gpt2"))
                .Add("general.name", GgufValue.String("pre-" + pre))
                .Add("tokenizer.ggml.model", GgufValue.String("gpt2"))
                .Add("tokenizer.ggml.pre", GgufValue.String(pre))
                .Add("tokenizer.ggml.tokens", GgufValue.StringArray(_tokens))
                .Add("tokenizer.ggml.token_type", GgufValue.Int32Array(_types))
                .Add("tokenizer.ggml.merges", GgufValue.StringArray(_merges))
                .Add("tokenizer.ggml.bos_token_id", GgufValue.UInt32(50256))
                .Add("tokenizer.ggml.eos_token_id", GgufValue.UInt32(50256))
                .WriteTo(path);
            return path;
        }

        public void Dispose() => Directory.Delete(_scratch, recursive: true);
    }
}
