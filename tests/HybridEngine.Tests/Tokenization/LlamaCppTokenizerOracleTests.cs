using System.Text;
using HybridEngine.Tokenization;
using LLama;
using LLama.Native;
using Xunit;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// Differential tests against llama.cpp itself (the build LLamaSharp.Backend.Cpu ships, loading each shared
/// vocabulary with vocab_only): seeded random strings mixing many scripts, emoji, combining marks, unusual whitespace,
/// contractions, digits and the vocabulary's own special-token texts must give the same ids with and without BOS and
/// special-token parsing; and every token's piece must be the same bytes, with and without rendering specials.
/// </summary>
public class LlamaCppTokenizerOracleTests
{
    private const int StringsPerVocabulary = 120;

    private static readonly string[] Palette =
    [
        "a", "Z", "hello", " world", "The", " quick", "ing", "3", "42", "1234567", "3.14", "_", "-", "--", "==", "!", "?", "...", ",",
        "(", ")", "[", "]", "{", "}", "<", ">", "/", "\\", "\"", "`", "~", "^", "|", "$", "+", "=", "@", "#", "%", "&", "*",
        " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\v", "\f", "\u00A0", "\u3000", "\u2028", "\u200B", "\u200D", "\uFEFF",
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'RE", "'Ll", "'", "''",
        "Ä", "ä", "ß", "é", "e\u0301", "ñ", "À", "Á", "ÿ", "ý", "þ", "÷", "ø", "õ", "ö", "ü", "ù", "ú", "û", "µ", "½", "²", "Ⅻ",
        "Ωμέγα", "ά", "ῼ", "Привет", " мир", "مرحبا", "שלום", "नमस्ते", "สวัสดี", "ស្វាគមន៍", "ሰላም",
        "我想在", "工作", "天", "こんにちは", "カタカナ", "안녕하세요", "！", "～", "Ａｂｃ", "１２３", "١٢٣", "४५",
        "€", "£", "∑", "∞", "≈", "🚀", "😁", "🦙", "👍🏽", "❤️‍🔥", "🇫🇷", "\U0001D400", "\U00010400", "\U0001E900",
    ];

    public static TheoryData<string> Vocabularies => new(VocabTestCases.Names);

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void RandomStringsTokenizeLikeLlamaCpp(string name)
    {
        var ours = VocabTestCases.Load(name);
        var weights = LoadReference(name);
        var random = new Random(20240601 + name.Length);
        var specials = ours.Vocabulary.SpecialTokens.Select(ours.Vocabulary.GetText).Take(40).ToArray();
        var failures = new StringBuilder();
        int failed = 0;
        for (int i = 0; i < StringsPerVocabulary; i++)
        {
            string text = RandomText(random, specials, ours, name);
            foreach (bool addSpecial in new[] { false, true })
            {
                foreach (bool parseSpecial in new[] { false, true })
                {
                    int[] expected = weights.NativeHandle.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8).Select(t => (int)t).ToArray();
                    int[] actual = ours.Encode(text, addSpecial, parseSpecial);
                    if (expected.AsSpan().SequenceEqual(actual)) continue;
                    if (++failed <= 5)
                    {
                        failures.AppendLine($"  \"{VocabTestCases.Escape(text)}\" addSpecial={addSpecial} parseSpecial={parseSpecial}");
                        failures.AppendLine($"    llama.cpp [{string.Join(' ', expected)}]");
                        failures.AppendLine($"    ours      [{string.Join(' ', actual)}]");
                    }
                }
            }
        }
        Assert.True(failed == 0, $"{name}: {failed} of {StringsPerVocabulary * 4} encodings differ from llama.cpp:\n{failures}");
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void EveryTokenPieceMatchesLlamaCpp(string name)
    {
        var ours = VocabTestCases.Load(name);
        var weights = LoadReference(name);
        Assert.Equal(ours.Vocabulary.Count, weights.NativeHandle.Vocab.Count);
        var buffer = new byte[1024];
        var failures = new StringBuilder();
        int failed = 0;
        for (int id = 0; id < ours.Vocabulary.Count; id++)
        {
            foreach (bool special in new[] { false, true })
            {
                int length = (int)weights.NativeHandle.TokenToSpan((LLamaToken)id, buffer, 0, special);
                var expected = buffer.AsSpan(0, length);
                var actual = ours.TokenToPieceBytes(id, special);
                if (expected.SequenceEqual(actual)) continue;
                if (++failed <= 5)
                {
                    failures.AppendLine($"  token {id} '{VocabTestCases.Escape(ours.Vocabulary.GetText(id))}' special={special}: " +
                        $"llama.cpp {Convert.ToHexString(expected)}, ours {Convert.ToHexString(actual)}");
                }
            }
        }
        Assert.True(failed == 0, $"{name}: {failed} token pieces differ from llama.cpp:\n{failures}");
    }

    private static string RandomText(Random random, string[] specials, Tokenizer ours, string name)
    {
        var sb = new StringBuilder();
        int chunks = random.Next(1, 14);
        for (int c = 0; c < chunks; c++)
        {
            int kind = random.Next(10);
            if (kind == 0 && specials.Length > 0) sb.Append(specials[random.Next(specials.Length)]);
            else if (kind == 1) sb.Append(ours.TokenToPiece(random.Next(ours.Vocabulary.Count), renderSpecial: false));
            else sb.Append(Palette[random.Next(Palette.Length)]);
        }
        // Pieces of byte tokens can be half a character; keep the text valid UTF-16 like any caller's string.
        return new string(sb.ToString().Where(ch => ch != '\uFFFD').ToArray());
    }

    private static LLamaWeights LoadReference(string name) => LlamaCppVocab.Load(VocabTestCases.Path(name));
}
