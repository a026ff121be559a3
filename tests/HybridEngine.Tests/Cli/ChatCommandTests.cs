using System.CommandLine;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Configuration;
using HybridEngine.Hardware;
using HybridEngine.Models.Synthetic;
using HybridEngine.Runtime;
using HybridEngine.Tests.Streaming;
using HybridEngine.Tests.Tuning;
using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Cli;

/// <summary>
/// <c>hybrid chat</c> scripted through stdin on a tiny synthetic Qwen3-MoE model (no chat template in the file, so
/// Qwen3's is chosen from the architecture), and the session's KV-cache reuse against a fresh run of the whole prompt.
/// The model has routed experts, so chat plans its placement: runs name a synthetic profile of this machine and scratch
/// profile folders (no tune, nothing written outside the scratch folder).
/// </summary>
public sealed class ChatCommandTests : IDisposable
{
    private readonly string _dir = TestPaths.NewScratchDirectory();
    private readonly string _model, _profile;
    private readonly EngineOptions _options;

    public ChatCommandTests()
    {
        _model = Path.Combine(_dir, "qwen3moe-tiny.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(Seed: 3), _model);
        _profile = Path.Combine(_dir, "machine.json");
        ProfileJson.Save(TuneScratch.Synthetic(new HardwareProbe().Probe(_dir)), _profile);
        _options = new EngineOptions { ProfileDirectory = Path.Combine(_dir, "project"), UserProfileDirectory = Path.Combine(_dir, "user"), ModelDirectory = _dir };
    }

    private (int Code, string Out, string Err) Chat(string input, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(ChatCommand.Create(new StringReader(input), stdout, stderr, _options, TuneScratch.Small));
        int code = CliRunner.Run(root, ["chat", "-m", _model, "--profile", _profile, .. args], stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// The placement options of run: under a RAM budget that leaves a quarter of the expert bytes to the cache the
    /// experts stream, and the replies are the resident ones exactly (placement never changes results).
    /// </summary>
    [Fact]
    public void AcceptsThePlacementOptionsAndRepliesAlike()
    {
        const string input = "hello world\nwhat is the model\n";
        var resident = Chat(input, "--temp", "0", "-n", "6", "-c", "128", "-t", "1", "--cpu-only");
        string budget = StreamingFixture.BudgetFor(_model, 128, 0.25).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var streamed = Chat(input, "--temp", "0", "-n", "6", "-c", "128", "-t", "1", "--cpu-only", "--ram-budget", budget,
            "--cache-policy", "lru", "--no-prefetch", "--stream-mode", "direct");
        Assert.True(resident.Code == 0, resident.Err);
        Assert.True(streamed.Code == 0, streamed.Err);
        Assert.Equal(2, resident.Out.Count(c => c == '\n'));
        Assert.Equal(resident.Out, streamed.Out);
        // The budget really streams experts: the plan for it (same inputs, so the same plan) leaves some on disk.
        var planOut = new StringWriter();
        var planRoot = new RootCommand("test");
        planRoot.Subcommands.Add(PlanCommand.Create(planOut, new StringWriter(), _options, TuneScratch.Small));
        Assert.Equal(0, CliRunner.Run(planRoot, ["plan", "-m", _model, "--profile", _profile, "-c", "128", "--cpu-only", "--ram-budget", budget, "--json"]));
        Assert.Contains(StreamingFixture.Json(planOut.ToString()).GetProperty("experts").EnumerateArray(), l => l.GetProperty("streamed").GetArrayLength() > 0);
        var bad = Chat(input, "--cache-policy", "fifo");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--cache-policy 'fifo'", bad.Err);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two turns then /exit: two reply lines, each the greedy continuation of the conversation rendered so far.</summary>
    [Fact]
    public void ScriptedSessionRepliesToEachLineAndQuitsOnExit()
    {
        var (code, stdout, stderr) = Chat("hello world\nwhat is the model\n/exit\nnot read\n", "--temp", "0", "-n", "6", "-c", "256", "-t", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("no chat template", stderr);
        string[] lines = stdout.Split('\n');
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
        var (code, stdout, stderr) = Chat("hello\n", "--temp", "0", "-n", "3", "-c", "128", "-t", "1");
        Assert.True(code == 0, stderr);
        Assert.Equal(1, stdout.Count(c => c == '\n')); // one reply, then the end of input ends the chat
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
