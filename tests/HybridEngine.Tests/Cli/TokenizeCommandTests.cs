using System.CommandLine;
using System.Text;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Gguf;
using HybridEngine.Tests.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Cli;

/// <summary>
/// <c>hybrid tokenize</c> run in-process on the shared files: the ids it prints are llama.cpp's (LLamaSharp with
/// vocab_only, BOS added and specials parsed as llama-tokenize does), in every output form; bad input exits 2.
/// </summary>
public class TokenizeCommandTests
{
    private const string Chat = "<|im_start|>user\nHello, y'all! 🦙 1234<|im_end|>";

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(TokenizeCommand.Create(stdout, stderr));
        int code = CliRunner.Run(root, args, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static int[] LlamaCpp(string path, string text, bool addSpecial = true, bool parseSpecial = true)
    {
        var weights = LlamaCppVocab.Load(path);
        return weights.NativeHandle.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8).Select(t => (int)t).ToArray();
    }

    [Fact]
    public void TablePrintsOneLinePerTokenWithItsPiece()
    {
        string path = TestPaths.Data("stories260K.gguf");
        var (code, stdout, stderr) = Run("tokenize", "-m", path, "-p", "Once upon a time");
        Assert.True(code == 0, stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int[] expected = LlamaCpp(path, "Once upon a time");
        Assert.Equal(expected.Length, lines.Length);
        Assert.Equal("1 -> '<s>'", lines[0].Trim());
        Assert.Equal(expected, lines.Select(l => int.Parse(l.Split("->")[0])));
        Assert.Equal(" Once upon a time", string.Concat(lines[1..].Select(l => l.Split("-> '")[1].TrimEnd('\''))));
    }

    [Fact]
    public void IdsOnlyAndJsonGiveLlamaCppIdsForPromptAndFile()
    {
        string path = VocabPath("qwen2");
        int[] expected = LlamaCpp(path, Chat);
        Assert.Equal(151644, expected[0]); // <|im_start|> parsed as a special token

        var (code, stdout, stderr) = Run("tokenize", "-m", path, "-p", Chat, "--ids-only");
        Assert.True(code == 0, stderr);
        Assert.Equal(expected, stdout.Trim().Split(',').Select(int.Parse));

        string scratch = TestPaths.NewScratchDirectory();
        try
        {
            string textFile = Path.Combine(scratch, "prompt.txt");
            File.WriteAllText(textFile, Chat);
            (code, stdout, stderr) = Run("tokenize", "-m", path, "-f", textFile, "--json");
            Assert.True(code == 0, stderr);
            var json = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal(expected, json.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(expected.Length, json.GetProperty("count").GetInt32());
            Assert.Equal("qwen2", json.GetProperty("preTokenizer").GetString());
            var tokens = json.GetProperty("tokens").EnumerateArray().ToArray();
            Assert.Equal("<|im_start|>", tokens[0].GetProperty("piece").GetString());
            // The llama's 4 UTF-8 bytes are split over tokens; those pieces carry their bytes in hex.
            Assert.Contains(tokens, t => t.TryGetProperty("bytes", out _));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [Fact]
    public void NoBosAndNoParseSpecialChangeTheIdsAsInLlamaCpp()
    {
        string path = VocabPath("llama-bpe");
        const string text = "<|begin_of_text|>Hi";
        var (code, stdout, _) = Run("tokenize", "-m", path, "-p", text, "--ids-only", "--no-bos", "--no-parse-special");
        Assert.Equal(0, code);
        Assert.Equal(LlamaCpp(path, text, addSpecial: false, parseSpecial: false), stdout.Trim().Split(',').Select(int.Parse));
        Assert.DoesNotContain("128000", stdout);
    }

    [Theory]
    [InlineData("-p", "x", "-f", "y.txt")]
    [InlineData("--ids-only")]
    public void NeedsExactlyOneTextSource(params string[] extra)
    {
        var (code, stdout, stderr) = Run(["tokenize", "-m", TestPaths.Data("stories260K.gguf"), .. extra]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains("-p TEXT or -f FILE", stderr);
    }

    [Fact]
    public void UnsupportedTokenizerExitsTwoNamingIt()
    {
        string scratch = TestPaths.NewScratchDirectory();
        try
        {
            string model = Path.Combine(scratch, "bert-vocab.gguf");
            new GgufWriter()
                .Add("tokenizer.ggml.model", GgufValue.String("bert"))
                .Add("tokenizer.ggml.tokens", GgufValue.StringArray(["[PAD]", "[UNK]"]))
                .WriteTo(model);
            var (code, stdout, stderr) = Run("tokenize", "-m", model, "-p", "hello");
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            Assert.Contains("'bert'", stderr);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static string VocabPath(string name) => TestPaths.Data($"vocab/ggml-vocab-{name}.gguf");
}
