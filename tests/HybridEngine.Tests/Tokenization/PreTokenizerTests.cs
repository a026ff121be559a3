using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// Word splits worked out by hand from the regexes (leftmost alternative wins, greedy with backtracking, each regex of
/// a list applied to the pieces of the previous one, unmatched gaps kept as words).
/// </summary>
public class PreTokenizerTests
{
    [Theory]
    // \p{N}{1,3} cuts "123" and "45"; the CJK regex cuts "世界" off " 世界!"; the last regex splits "Hello, " into
    // "Hello", "," and the trailing " " (\s+(?!\S) at the piece end); digit pieces match nothing there and stay whole.
    [InlineData("deepseek-v3", "Hello, 12345 世界!", new[] { "Hello", ",", " ", "123", "45", " ", "世界", "!" })]
    // Qwen2: single digits; a space before a digit is its own word; "\n\n" by \s*[\r\n]+ after backtracking; of two
    // spaces before "x" one is left for " x".
    [InlineData("qwen2", "I'm 12 abc\n\n  x", new[] { "I", "'m", " ", "1", "2", " abc", "\n\n", " ", " x" })]
    // GPT-2: one of the two spaces stays with "world"; contractions are words; " 42" keeps its space; "!!" is one word.
    [InlineData("gpt-2", "Hello  world's 42!!", new[] { "Hello", " ", " world", "'s", " 42", "!!" })]
    // Llama 3: digits in runs of at most three; contractions match in either case.
    [InlineData("llama-bpe", "12345 abc'RE", new[] { "123", "45", " abc", "'RE" })]
    // DeepSeek coder: newlines alone, then letters with one leading space, punctuation runs, each digit alone.
    [InlineData("deepseek-coder", "a\nb 12.", new[] { "a", "\n", "b", " ", "1", "2", "." })]
    public void SplitsAsTheRegexesSay(string pre, string text, string[] words)
    {
        Assert.Equal(words, PreTokenizer.ForName(pre).Split(text));
    }

    [Fact]
    public void WordsAlwaysConcatenateToTheText()
    {
        const string text = "Ünïcödé  \t\r\n 3.14159 🦙🦙 'tis ＡＢＣ ～ 한국어!";
        foreach (string pre in PreTokenizer.SupportedNames)
        {
            Assert.Equal(text, string.Concat(PreTokenizer.ForName(pre).Split(text)));
        }
    }

    [Fact]
    public void MissingPreMeansDefault()
    {
        Assert.Equal("default", PreTokenizer.ForName(null).Name);
        Assert.Throws<NotSupportedException>(() => PreTokenizer.ForName("no-such-pre"));
    }
}
