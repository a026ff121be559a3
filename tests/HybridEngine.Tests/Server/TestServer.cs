using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
using HybridEngine.Server;
using Xunit;

namespace HybridEngine.Tests.Server;

/// <summary>
/// A server on a free loopback port serving a tiny synthetic qwen3moe model (ChatML markers in its vocabulary),
/// written into a scratch folder; disposed with the folder.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly string _dir;

    private TestServer(string dir, string model, HybridServer server)
    {
        _dir = dir;
        ModelPath = model;
        Server = server;
        Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public string ModelPath { get; }
    public HybridServer Server { get; }
    public HttpClient Http { get; }
    public Uri Address => Server.Address;

    /// <summary>Port 0 and one compute thread: the tests share two cores and need no speed.</summary>
    public static async Task<TestServer> StartAsync(Func<ServerOptions, ServerOptions>? configure = null)
    {
        string dir = TestPaths.NewScratchDirectory();
        string model = Path.Combine(dir, "tiny-qwen3moe.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(GgmlType.F32, Seed: 7), model);
        var options = new ServerOptions(model, Port: 0, Threads: 1);
        try
        {
            var server = await HybridServer.StartAsync(configure?.Invoke(options) ?? options);
            Assert.True(System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(server.Address.Host)), $"bound to {server.Address}");
            return new TestServer(dir, model, server);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    public async Task<(int Status, JsonElement Body)> PostAsync(string path, string body, string? key = null, CancellationToken cancel = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (key != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Http.SendAsync(request, cancel);
        string text = await response.Content.ReadAsStringAsync(cancel);
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public async Task<JsonElement> GetJsonAsync(string path, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Http.SendAsync(request);
        Assert.Equal(200, (int)response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Checks the OpenAI error shape: {"error":{"message": non-empty string, "type": string, ...}}.</summary>
    public static void AssertErrorShape(JsonElement body)
    {
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
