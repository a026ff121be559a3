using System.Text;
using Xunit;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// Real running text against llama.cpp: the first 64 KiB of WikiText-2 (shared/data/wiki.test.raw, CRLF line ends,
/// headings, numbers, non-ASCII names) must tokenize to exactly llama.cpp's ids with every shared vocabulary.
/// </summary>
public class WikiTextOracleTests
{
    private const int Chars = 64 * 1024;

    public static TheoryData<string> Vocabularies => new(VocabTestCases.Names);

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void WikiTextTokenizesLikeLlamaCpp(string name)
    {
        string text = File.ReadAllText(TestPaths.Data("wiki.test.raw"));
        text = text[..Math.Min(text.Length, Chars)];
        var ours = VocabTestCases.Load(name);
        var reference = LlamaCppVocab.Load(VocabTestCases.Path(name));
        int[] expected = reference.NativeHandle.Tokenize(text, true, false, Encoding.UTF8).Select(t => (int)t).ToArray();
        int[] actual = ours.Encode(text, addSpecial: true, parseSpecial: false);
        int first = 0;
        while (first < Math.Min(expected.Length, actual.Length) && expected[first] == actual[first]) first++;
        Assert.True(first == expected.Length && first == actual.Length,
            $"{name}: {expected.Length} ids from llama.cpp, {actual.Length} ours; first difference at index {first}: " +
            $"llama.cpp [{string.Join(' ', expected.Skip(first).Take(8))}] ours [{string.Join(' ', actual.Skip(first).Take(8))}]");
    }
}
