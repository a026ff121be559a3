using System.Text;
using HybridEngine.Gguf;
using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Tokenization;

/// <summary>
/// BOS/EOS rules, special-token parsing, decoding rules and load errors, on the shared files and on small vocabularies
/// written here. Expected ids are either stated facts of the files (BOS = 1 in stories260K, &lt;|im_start|&gt; =
/// 151644 in Qwen2) or worked out by hand from the merge rules in the comments.
/// </summary>
public class TokenizerBehaviourTests
{
    private static Tokenizer Stories()
    {
        using var file = GgufFile.Open(TestPaths.Data("stories260K.gguf"));
        return Tokenizer.FromGguf(file);
    }

    [Fact]
    public void Stories260KTokenizesOnceUponATimeIntoWholeWordPiecesAfterBos()
    {
        var tokenizer = Stories();
        var v = tokenizer.Vocabulary;
        Assert.Equal("llama", v.Model);
        Assert.Equal(512, v.Count);
        Assert.True(v.AddBos); // SentencePiece default; the file has no add_bos_token key
        Assert.False(v.AddEos);
        Assert.Equal((1, 2, 0), (v.Bos, v.Eos, v.Unknown));
        Assert.Null(v.Separator); // the file's 4294967295 is outside the vocabulary and ignored

        int[] ids = tokenizer.Encode("Once upon a time", addSpecial: true, parseSpecial: false);
        Assert.Equal(1, ids[0]);
        string[] pieces = ids[1..].Select(id => tokenizer.TokenToPiece(id)).ToArray();
        Assert.Equal(" Once upon a time", string.Concat(pieces));
        // A 512-token story vocabulary merges these common words: no byte fallback, far fewer pieces than characters,
        // and every word boundary falls on a piece boundary (each piece after the first word starts with the space).
        Assert.All(ids[1..], id => Assert.Equal(TokenAttributes.Normal, v.GetAttributes(id)));
        Assert.True(pieces.Length <= 8, string.Join("|", pieces));
        Assert.Equal(4, pieces.Count(p => p.StartsWith(' ')));
        // The space SentencePiece put in front is dropped from the first piece; with a leading BOS, llama.cpp spends
        // that drop on the (empty) BOS piece, and when it removes BOS it keeps the space on purpose.
        Assert.Equal("Once upon a time", tokenizer.Decode(ids[1..]));
        Assert.Equal(" Once upon a time", tokenizer.Decode(ids));
        Assert.Equal(" Once upon a time", tokenizer.Decode(ids, removeSpecial: true));
        Assert.Equal("<s> Once upon a time", tokenizer.Decode(ids, renderSpecial: true));

        var reference = LlamaCppVocab.Load(TestPaths.Data("stories260K.gguf"));
        Assert.Equal(reference.NativeHandle.Tokenize("Once upon a time", true, false, Encoding.UTF8).Select(t => (int)t), ids);
    }

    [Fact]
    public void BosAndEosFollowTheVocabularyFlags()
    {
        var stories = Stories();
        Assert.Equal(stories.Encode("Once", false, false), stories.Encode("Once", true, false)[1..]);
        Assert.Equal([1], stories.Encode("", addSpecial: true, parseSpecial: false));
        Assert.Empty(stories.Encode("", addSpecial: false, parseSpecial: false));

        var llama3 = VocabTestCases.Load("llama-bpe"); // add_bos_token = true, BOS 128000
        Assert.Equal(128000, llama3.Encode("Hello", true, false)[0]);
        Assert.NotEqual(128000, llama3.Encode("Hello", false, false)[0]);

        var qwen = VocabTestCases.Load("qwen2"); // add_bos_token = false
        Assert.Equal(qwen.Encode("Hello", false, false), qwen.Encode("Hello", true, false));
        Assert.Contains(151645, qwen.Vocabulary.EndOfGeneration); // <|im_end|> ends a turn
        Assert.Contains(151643, qwen.Vocabulary.EndOfGeneration); // EOS
    }

    [Fact]
    public void ControlTokensAreMatchedOnlyWhenParsingSpecials()
    {
        var qwen = VocabTestCases.Load("qwen2");
        const string text = "<|im_start|>user\nHi<|im_end|>";
        int[] parsed = qwen.Encode(text, false, parseSpecial: true);
        Assert.Equal(151644, parsed[0]);
        Assert.Equal(151645, parsed[^1]);
        Assert.Equal(qwen.Encode("user\nHi", false, false), parsed[1..^1]);

        int[] plain = qwen.Encode(text, false, parseSpecial: false);
        Assert.DoesNotContain(151644, plain);
        Assert.Equal(text, qwen.Decode(plain));
        Assert.Equal("user\nHi", qwen.Decode(parsed));
        Assert.Equal(text, qwen.Decode(parsed, renderSpecial: true));
    }

    [Fact]
    public void SentencePieceFallsBackToUtf8ByteTokens()
    {
        var stories = Stories();
        int[] ids = stories.Encode("a🦙", false, false); // U+1F999 is not in the 512-token vocabulary: its UTF-8 bytes are
        string[] texts = ids.Select(stories.Vocabulary.GetText).ToArray();
        Assert.Equal(["<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"], texts[^4..]);
        Assert.All(ids[^4..], id => Assert.Equal(TokenAttributes.Byte, stories.Vocabulary.GetAttributes(id)));
        Assert.Equal(" a", string.Concat(ids[..^4].Select(id => stories.TokenToPiece(id))));
        Assert.Equal("a🦙", stories.Decode(ids));
    }

    [Fact]
    public void CleanSpacesDecodingRemovesSpacesBeforePunctuationOnlyWhereTheVocabularyAsks()
    {
        var gpt2 = VocabTestCases.Load("gpt-2"); // clean_up_tokenization_spaces: the GPT-2 pre-tokenizer keeps it on
        Assert.True(gpt2.Vocabulary.CleanSpaces);
        // llama.cpp's three passes: " ," " !" lose the space; " ' " becomes "'"; " 'm" loses the space, " 'll" keeps it.
        Assert.Equal("Hello, world! I'm here", gpt2.Decode(gpt2.Encode("Hello , world ! I 'm here", false, false)));
        Assert.Equal("a'b it 'll", gpt2.Decode(gpt2.Encode("a ' b it 'll", false, false)));

        var deepseek = VocabTestCases.Load("deepseek-llm"); // deepseek-llm turns it off
        Assert.False(deepseek.Vocabulary.CleanSpaces);
        Assert.Equal("Hello , world !", deepseek.Decode(deepseek.Encode("Hello , world !", false, false)));
    }

    [Fact]
    public void SmallDeepSeekV3VocabularyMergesByRank()
    {
        // SPEC 6.2's minimal deepseek2 vocabulary. "ab a": the deepseek-v3 regex yields the words "ab" and " a";
        // "ab" merges by the rule "a b" into token 4; " a" is "Ġa" in GPT-2 characters with no merge, so Ġ (5), a (2).
        using var file = Write(Vocab("gpt2", "deepseek-v3",
            ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "a", "b", "ab", "Ġ", "Ċ"], [3, 3, 1, 1, 1, 1, 1], ["a b"]));
        var tokenizer = Tokenizer.FromGguf(file);
        Assert.IsType<BpeTokenizer>(tokenizer);
        Assert.Equal([0, 4, 5, 2], tokenizer.Encode("ab a", addSpecial: true, parseSpecial: false));
        Assert.Equal([0, 2, 6, 3], tokenizer.Encode("<｜begin▁of▁sentence｜>a\nb", addSpecial: false, parseSpecial: true));
        Assert.Equal("ab a", tokenizer.Decode([0, 4, 5, 2]));
        Assert.Contains(1, tokenizer.Vocabulary.EndOfGeneration);
    }

    [Fact]
    public void UnsupportedTokenizerModelIsRefusedByName()
    {
        using var file = Write(Vocab("wordpiece-x", null, ["[UNK]", "a"], [2, 1], null));
        var error = Assert.Throws<NotSupportedException>(() => Tokenizer.FromGguf(file));
        Assert.Contains("'wordpiece-x'", error.Message);
        Assert.Contains("llama", error.Message);
        Assert.Contains("gpt2", error.Message);
    }

    [Fact]
    public void UnknownPreTokenizerIsRefusedWithTheSupportedList()
    {
        using var file = Write(Vocab("gpt2", "no-such-pre", ["a", "b"], [1, 1], ["a b"]));
        var error = Assert.Throws<NotSupportedException>(() => Tokenizer.FromGguf(file));
        Assert.Contains("'no-such-pre'", error.Message);
        Assert.Contains("deepseek-v3", error.Message);
        Assert.Contains("qwen2", error.Message);
    }

    [Fact]
    public void MissingKeysAreFormatErrorsNamingThem()
    {
        using var noModel = Write(new GgufWriter().Add("tokenizer.ggml.tokens", GgufValue.StringArray(["a"])));
        Assert.Contains("tokenizer.ggml.model", Assert.Throws<GgufFormatException>(() => Tokenizer.FromGguf(noModel)).Message);

        using var noMerges = Write(Vocab("gpt2", "gpt-2", ["a", "b"], [1, 1], null));
        Assert.Contains("tokenizer.ggml.merges", Assert.Throws<GgufFormatException>(() => Tokenizer.FromGguf(noMerges)).Message);
    }

    private static GgufWriter Vocab(string model, string? pre, string[] tokens, int[] types, string[]? merges)
    {
        var w = new GgufWriter()
            .Add("general.architecture", GgufValue.String("llama"))
            .Add("tokenizer.ggml.model", GgufValue.String(model));
        if (pre != null) w.Add("tokenizer.ggml.pre", GgufValue.String(pre));
        w.Add("tokenizer.ggml.tokens", GgufValue.StringArray(tokens))
            .Add("tokenizer.ggml.token_type", GgufValue.Int32Array(types));
        if (merges != null) w.Add("tokenizer.ggml.merges", GgufValue.StringArray(merges));
        if (model == "gpt2" && tokens.Length > 2)
        {
            w.Add("tokenizer.ggml.bos_token_id", GgufValue.UInt32(0))
                .Add("tokenizer.ggml.eos_token_id", GgufValue.UInt32(1))
                .Add("tokenizer.ggml.add_bos_token", GgufValue.Bool(true));
        }
        return w;
    }

    private static GgufFile Write(GgufWriter writer)
    {
        using var stream = new MemoryStream();
        writer.WriteTo(stream);
        return GgufFile.Parse(stream.ToArray(), "test-vocab.gguf");
    }
}
