using System.ClientModel;
using System.CommandLine;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using OpenAI;
using OpenAI.Chat;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Server;

/// <summary>The official OpenAI .NET client against <c>hybrid serve</c> on a loopback port, and its text against <c>hybrid run</c>.</summary>
public sealed class OpenAiClientTests(ITestOutputHelper log) : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private OpenAIClientOptions Options => new() { Endpoint = new Uri(_server.Address, "v1"), NetworkTimeout = TimeSpan.FromSeconds(60) };

    private ChatClient Chat => new("tiny-qwen3moe", new ApiKeyCredential("unused"), Options);

    [Fact]
    public async Task ListsTheServedModel()
    {
        var models = await new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential("unused"), Options).GetModelsAsync();
        var model = Assert.Single(models.Value);
        Assert.Equal("tiny-qwen3moe", model.Id);
    }

    /// <summary>
    /// A greedy <c>/v1/completions</c> call (sent through the client's own pipeline: the 2.x client keeps its legacy
    /// completion client internal) equals what <c>hybrid run</c> prints after the prompt, and the
    /// usage counts the prompt's tokens and max_tokens new ones.
    /// </summary>
    [Fact]
    public async Task GreedyCompletionEqualsHybridRun()
    {
        const string prompt = "hello world, the model is";
        const int n = 12;
        var pipeline = new OpenAIClient(new ApiKeyCredential("unused"), Options).Pipeline;
        using var message = pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(_server.Address, "v1/completions");
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Content = BinaryContent.Create(BinaryData.FromObjectAsJson(
            new { model = "tiny-qwen3moe", prompt, max_tokens = n, temperature = 0, seed = 1234 }));
        await pipeline.SendAsync(message);
        Assert.Equal(200, message.Response!.Status);
        var json = JsonDocument.Parse(message.Response.Content.ToString()).RootElement;
        var choice = json.GetProperty("choices")[0];
        string text = choice.GetProperty("text").GetString()!;
        log.WriteLine($"completion: {JsonSerializer.Serialize(text)}");
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(n, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.NotEmpty(text);

        string printed = HybridRun("-p", prompt, "-n", n.ToString(), "--temp", "0", "--seed", "1234");
        Assert.Equal(prompt + text + Environment.NewLine, printed);
    }

    /// <summary>
    /// A greedy chat completion through the client equals <c>hybrid run</c> on the same conversation written out
    /// by hand in ChatML (the vocabulary's &lt;|im_start|&gt; markers are parsed as special tokens by run).
    /// </summary>
    [Fact]
    public async Task GreedyChatEqualsHybridRunOnTheChatMlPrompt()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0f };
        var completion = await Chat.CompleteChatAsync([new SystemChatMessage("be brief"), new UserChatMessage("hello there")], options);
        string text = completion.Value.Content.Count == 0 ? "" : completion.Value.Content[0].Text;
        log.WriteLine($"chat: {JsonSerializer.Serialize(text)}, finish {completion.Value.FinishReason}");
        Assert.Equal(ChatFinishReason.Length, completion.Value.FinishReason);
        Assert.Equal(10, completion.Value.Usage.OutputTokenCount);

        const string chatMl = "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n";
        string printed = HybridRun("-p", chatMl, "-n", "10", "--temp", "0");
        Assert.EndsWith("assistant\n" + text + Environment.NewLine, printed);
    }

    /// <summary>
    /// Streamed chat with seed and temperature 0: updates arrive in pieces, end with a finish reason, join to the
    /// unstreamed text, and that text is what <c>hybrid run</c> prints for the same conversation in ChatML.
    /// </summary>
    [Fact]
    public async Task StreamedChatJoinsToTheSameTextAsHybridRun()
    {
        // The client marks Seed experimental (OPENAI001); the server honours it as OpenAI documents it.
#pragma warning disable OPENAI001
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0f, Seed = 42 };
#pragma warning restore OPENAI001
        ChatMessage[] messages = [new UserChatMessage("tell me about the expert")];
        var whole = await Chat.CompleteChatAsync(messages, options);
        var pieces = new List<string>();
        ChatFinishReason? finish = null;
        await foreach (var update in Chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate) pieces.Add(part.Text);
            finish ??= update.FinishReason;
        }
        log.WriteLine($"streamed {pieces.Count} pieces: {JsonSerializer.Serialize(pieces)}");
        Assert.True(pieces.Count >= 2, $"expected the text in several pieces, got {pieces.Count}");
        Assert.Equal(ChatFinishReason.Length, finish);
        string streamed = string.Concat(pieces);
        Assert.Equal(whole.Value.Content.Count == 0 ? "" : whole.Value.Content[0].Text, streamed);

        const string chatMl = "<|im_start|>user\ntell me about the expert<|im_end|>\n<|im_start|>assistant\n";
        string printed = HybridRun("-p", chatMl, "-n", "8", "--temp", "0", "--seed", "42");
        Assert.EndsWith("assistant\n" + streamed + Environment.NewLine, printed);
    }

    /// <summary>The raw event stream ends with <c>data: [DONE]</c> and every other event is a JSON chunk.</summary>
    [Fact]
    public async Task EventStreamEndsWithDone()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = TestServer.Json("""{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true,"temperature":0}"""),
        };
        using var response = await _server.Http.SendAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string[] events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        foreach (var e in events[..^1])
        {
            Assert.StartsWith("data: ", e);
            Assert.Equal("chat.completion.chunk", JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("object").GetString());
        }
    }

    /// <summary>A stop sequence taken from the greedy text cuts the text just before it, with finish_reason "stop".</summary>
    [Fact]
    public async Task StopSequenceCutsTheText()
    {
        const string body = """{"prompt":"the expert token","max_tokens":16,"temperature":0}""";
        var (_, free) = await _server.PostAsync("v1/completions", body);
        string full = free.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.True(full.Length >= 4, $"need some text to cut: {JsonSerializer.Serialize(full)}");
        string stop = full.Substring(full.Length / 2, 2);
        int cut = full.IndexOf(stop, StringComparison.Ordinal);
        var (status, stopped) = await _server.PostAsync("v1/completions",
            body.Replace("\"temperature\":0", $"\"temperature\":0,\"stop\":[{JsonSerializer.Serialize(stop)}]"));
        Assert.Equal(200, status);
        var choice = stopped.GetProperty("choices")[0];
        Assert.Equal(full[..cut], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    private string HybridRun(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(RunCommand.Create(stdout, stderr));
        int code = CliRunner.Run(root, ["run", "-m", _server.ModelPath, "-t", "1", .. args], stderr);
        Assert.True(code == 0, stderr.ToString());
        return stdout.ToString();
    }
}
