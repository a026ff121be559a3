using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Xunit;

namespace HybridEngine.Tests.Server;

/// <summary>
/// Bad requests get OpenAI-shaped errors with the right 4xx and the server keeps serving; the API key is enforced.
/// The server has a context of 64 tokens, a 4096-byte body limit and a key.
/// </summary>
public sealed class ServerBadInputTests : IAsyncLifetime
{
    private const string Key = "sk-test-key";
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(o => o with { Context = 64, MaxBodyBytes = 4096, ApiKey = Key });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string, int, string?> BadRequests => new()
    {
        { "v1/completions", """{"prompt": "unfinished""", 400, null },
        { "v1/completions", "not json at all", 400, null },
        { "v1/completions", """["an", "array"]""", 400, null },
        { "v1/completions", """{"max_tokens": 4}""", 400, "prompt" },
        { "v1/completions", """{"prompt": 42}""", 400, "prompt" },
        { "v1/completions", """{"prompt": "hi", "max_tokens": "four"}""", 400, "max_tokens" },
        { "v1/completions", """{"prompt": "hi", "max_tokens": 2.5}""", 400, "max_tokens" },
        { "v1/completions", """{"prompt": "hi", "temperature": "hot"}""", 400, "temperature" },
        { "v1/completions", """{"prompt": "hi", "temperature": 7}""", 400, "temperature" },
        { "v1/completions", """{"prompt": "hi", "top_p": 0}""", 400, "top_p" },
        { "v1/completions", """{"prompt": "hi", "seed": "x"}""", 400, "seed" },
        { "v1/completions", """{"prompt": "hi", "stream": "yes"}""", 400, "stream" },
        { "v1/completions", """{"prompt": "hi", "stop": [1, 2]}""", 400, "stop" },
        { "v1/completions", """{"prompt": "hi", "max_tokens": 0}""", 400, "max_tokens" },
        { "v1/completions", """{"prompt": "hi", "max_tokens": -3}""", 400, "max_tokens" },
        { "v1/completions", """{"prompt": "hi", "max_tokens": 64}""", 400, "max_tokens" },
        { "v1/completions", """{"prompt": [1, 999999]}""", 400, "prompt" },
        { "v1/chat/completions", """{"messages": "hi"}""", 400, "messages" },
        { "v1/chat/completions", """{"messages": [{"role": 1, "content": "hi"}]}""", 400, "messages" },
        { "v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": "many"}""", 400, "max_completion_tokens" },
        { "v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "n": 2}""", 400, "n" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInputGetsItsStatusAndTheServerKeepsServing(string path, string body, int status, string? param)
    {
        var (got, error) = await _server.PostAsync(path, body, Key);
        Assert.Equal(status, got);
        TestServer.AssertErrorShape(error);
        if (param != null) Assert.Equal(param, error.GetProperty("error").GetProperty("param").GetString());
        await AssertStillServes();
    }

    /// <summary>A prompt longer than the 64-token context: 400 with OpenAI's context_length_exceeded code.</summary>
    [Fact]
    public async Task PromptLongerThanTheContextIs400()
    {
        string prompt = string.Concat(Enumerable.Repeat("hello world ", 80));
        var (got, error) = await _server.PostAsync("v1/completions", JsonSerializer.Serialize(new { prompt, max_tokens = 1 }), Key);
        Assert.Equal(400, got);
        TestServer.AssertErrorShape(error);
        Assert.Equal("context_length_exceeded", error.GetProperty("error").GetProperty("code").GetString());
        await AssertStillServes();
    }

    /// <summary>A body over the 4096-byte limit, with and without a Content-Length: 413.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OversizedBodyIs413(bool contentLength)
    {
        string body = JsonSerializer.Serialize(new { prompt = new string('a', 5000), max_tokens = 1 });
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        request.Content = contentLength ? TestServer.Json(body) : new StreamContent(new ChunkedStream(System.Text.Encoding.UTF8.GetBytes(body)));
        if (!contentLength) request.Headers.TransferEncodingChunked = true;
        // As curl does for large bodies: wait for the server's word before sending. The server refuses a declared
        // oversized body without reading it, and a client still sending could see the connection close first.
        else request.Headers.ExpectContinue = true;
        using var response = await _server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        TestServer.AssertErrorShape(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
        await AssertStillServes();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    [InlineData("")]
    public async Task RequestWithoutTheKeyIs401(string? key)
    {
        foreach (var path in new[] { "v1/models", "health", "metrics" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (key != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await _server.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            TestServer.AssertErrorShape(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
        }
        var (got, _) = await _server.PostAsync("v1/completions", """{"prompt":"hi","max_tokens":2}""", key);
        Assert.Equal(401, got);
        await AssertStillServes();
    }

    private async Task AssertStillServes()
    {
        var (got, body) = await _server.PostAsync("v1/completions", """{"prompt":"still there","max_tokens":2}""", Key);
        Assert.Equal(200, got);
        Assert.Equal(2, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("tiny-qwen3moe", (await _server.GetJsonAsync("v1/models", Key)).GetProperty("data")[0].GetProperty("id").GetString());
    }

    /// <summary>A stream of unknown length, so the client sends the body chunked with no Content-Length.</summary>
    private sealed class ChunkedStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
