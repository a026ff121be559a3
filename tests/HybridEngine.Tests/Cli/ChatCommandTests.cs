using System.CommandLine;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Models.Synthetic;
using HybridEngine.Runtime;
using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Cli;

/// <summary>
/// <c>hybrid chat</c> scripted through stdin on a tiny synthetic Qwen3-MoE model (no chat template in the file, so
/// Qwen3's is chosen from the architecture), and the session's KV-cache reuse against a fresh run of the whole prompt.
/// </summary>
public sealed class ChatCommandTests : IDisposable
{
    private readonly string _dir = TestPaths.NewScratchDirectory();
    private readonly string _model;

    public ChatCommandTests()
    {
        _model = Path.Combine(_dir, "qwen3moe-tiny.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(Seed: 3), _model);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two turns then /exit: two reply lines, each the greedy continuation of the conversation rendered so far.</summary>
    [Fact]
    public void ScriptedSessionRepliesToEachLineAndQuitsOnExit()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(ChatCommand.Create(new StringReader("hello world\nwhat is the model\n/exit\nnot read\n"), stdout, stderr));
        int code = CliRunner.Run(root, ["chat", "-m", _model, "--temp", "0", "-n", "6", "-c", "256", "-t", "2"], stderr);
        Assert.True(code == 0, stderr.ToString());
        Assert.Contains("no chat template", stderr.ToString());
        string[] lines = stdout.ToString().Split('\n');
        Assert.Equal(3, lines.Length); // two replies, each ending with a newline
        Assert.Equal("", lines[2]);
        Assert.NotEqual("", lines[0]);

        // The same conversation, each turn generated from scratch on the fully rendered prompt.
        using var loaded = LoadedModel.Load(_model);
        var tokenizer = Tokenizer.FromGguf(loaded.File);
        var template = new ChatTemplate(ChatFormat.Qwen3);
        var messages = new List<ChatMessage>();
        for (int turn = 0; turn < 2; turn++)
        {
            messages.Add(new ChatMessage("user", turn == 0 ? "hello world" : "what is the model"));
            int[] prompt = tokenizer.Encode(template.Render(messages, addAssistant: true), addSpecial: true, parseSpecial: true);
            using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: 256, Threads: 2));
            var reply = Generator.Generate(executor, prompt, 6, new Sampler(executor.Vocab, new SamplingOptions()), tokenizer.Vocabulary.EndOfGeneration)
                .TakeWhile(t => !tokenizer.Vocabulary.IsEndOfGeneration(t)).ToArray();
            string text = tokenizer.Decode(reply);
            Assert.Equal(text, lines[turn]);
            messages.Add(new ChatMessage("assistant", text));
        }
    }

    [Fact]
    public void EndOfInputQuits()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(ChatCommand.Create(new StringReader("hello\n"), stdout, stderr));
        int code = CliRunner.Run(root, ["chat", "-m", _model, "--temp", "0", "-n", "3", "-c", "128", "-t", "1"], stderr);
        Assert.True(code == 0, stderr.ToString());
        Assert.Equal(1, stdout.ToString().Count(c => c == '\n')); // one reply, then the end of input ends the chat
    }

    /// <summary>
    /// The second turn runs only the tokens after the cached conversation, and its logits equal a fresh run of the
    /// whole prompt within float rounding (the cached rows were computed one token at a time, the fresh ones in a
    /// batch: summation order only, so 1e-3 of the logit spread).
    /// </summary>
    [Fact]
    public void SecondTurnReusesTheCache()
    {
        using var loaded = LoadedModel.Load(_model);
        var tokenizer = Tokenizer.FromGguf(loaded.File);
        var template = ChatTemplate.FromGguf(loaded.File);
        using var executor = loaded.CreateExecutor(new ExecutorOptions(Context: 256, Threads: 2));
        var session = new ChatSession(executor, tokenizer, template, new Sampler(executor.Vocab, new SamplingOptions()), "Be brief.");
        int[] first = session.Reply("hello world", 5).ToArray();
        Assert.Equal(0, session.ReusedTokens);
        int[] second = session.Reply("and the expert", 5).ToArray();
        int[] prompt = tokenizer.Encode(template.Render(session.Messages.Take(4).ToList(), addAssistant: true), addSpecial: true, parseSpecial: true);
        Assert.True(session.ReusedTokens > 0, "nothing of the first turn was reused");
        Assert.Equal(prompt.Length, session.ReusedTokens + session.PromptTokensRun);

        using var fresh = loaded.CreateExecutor(new ExecutorOptions(Context: 256, Threads: 2));
        var expected = Generator.Generate(fresh, prompt, 5, new Sampler(fresh.Vocab, new SamplingOptions()), tokenizer.Vocabulary.EndOfGeneration)
            .TakeWhile(t => !tokenizer.Vocabulary.IsEndOfGeneration(t)).ToArray();
        Assert.Equal(expected, second);
        Assert.NotEmpty(first);
    }
}
