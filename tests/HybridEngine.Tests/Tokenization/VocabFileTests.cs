using System.Text;
using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// Exact token ids for llama.cpp's tokenizer test strings on every shared vocabulary (SentencePiece and byte-level
/// BPE with ten pre-tokenizers): the expected ids come from the reference tokenizers, not from this code.
/// Also: the pieces of every encoded string give back its exact bytes.
/// </summary>
public class VocabFileTests
{
    public static TheoryData<string> Vocabularies => new(VocabTestCases.Names);

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void EncodesEveryTestStringExactly(string name)
    {
        var tokenizer = VocabTestCases.Load(name);
        var cases = VocabTestCases.Read(name);
        Assert.NotEmpty(cases);
        var failures = new StringBuilder();
        int failed = 0;
        foreach (var (text, expected) in cases)
        {
            int[] actual = tokenizer.Encode(text, addSpecial: false, parseSpecial: false);
            if (actual.AsSpan().SequenceEqual(expected)) continue;
            failed++;
            failures.AppendLine($"  \"{VocabTestCases.Escape(text)}\"");
            failures.AppendLine($"    expected [{string.Join(' ', expected)}]");
            failures.AppendLine($"    actual   [{string.Join(' ', actual)}]");
        }
        Assert.True(failed == 0, $"{name}: {failed} of {cases.Count} strings tokenize differently:\n{failures}");
    }

    /// <summary>
    /// Lossless round trip: the concatenated pieces are the input's UTF-8 bytes (after SentencePiece's one added
    /// leading space). <see cref="Tokenizer.Decode"/> gives the text back exactly where the vocabulary does not clean
    /// up spaces.
    /// </summary>
    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void PiecesGiveBackTheText(string name)
    {
        var tokenizer = VocabTestCases.Load(name);
        foreach (var (text, _) in VocabTestCases.Read(name))
        {
            int[] ids = tokenizer.Encode(text, addSpecial: false, parseSpecial: false);
            var bytes = new List<byte>();
            foreach (int id in ids) bytes.AddRange(tokenizer.TokenToPieceBytes(id).ToArray());
            string prefix = tokenizer.Vocabulary.AddSpacePrefix && text.Length > 0 ? " " : "";
            Assert.True(Encoding.UTF8.GetBytes(prefix + text).AsSpan().SequenceEqual(bytes.ToArray()),
                $"{name}: pieces of \"{VocabTestCases.Escape(text)}\" are \"{VocabTestCases.Escape(Encoding.UTF8.GetString(bytes.ToArray()))}\"");
            if (!tokenizer.Vocabulary.CleanSpaces) Assert.Equal(text, tokenizer.Decode(ids));
        }
    }
}
