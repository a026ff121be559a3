using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace HybridEngine.Tests.Server;

/// <summary>Many clients at once, a full queue, and clients that leave: nothing lost, nothing hung, the model freed.</summary>
public sealed class ServerLoadTests(ITestOutputHelper log)
{
    /// <summary>
    /// 50 completions from 8 concurrent clients against a queue of 2: each is answered (200 with text) or refused
    /// (503 with Retry-After), none time out (30 s per request), the server's own counts agree, and it is healthy after.
    /// </summary>
    [Fact]
    public async Task FiftyRequestsFromEightClientsAreAllAnsweredOrRefused()
    {
        await using var server = await TestServer.StartAsync(o => o with { QueueLimit = 2 });
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        const int total = 50, clients = 8;
        int next = -1, answered = 0, refused = 0;
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                try
                {
                    using var response = await http.PostAsync("v1/completions",
                        TestServer.Json($$"""{"prompt":"request {{i}} about the model","max_tokens":6,"temperature":0.8,"seed":{{i}}}"""));
                    string body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode == HttpStatusCode.OK && JsonDocument.Parse(body).RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0)
                        Interlocked.Increment(ref answered);
                    else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter != null)
                    {
                        TestServer.AssertErrorShape(JsonDocument.Parse(body).RootElement);
                        Interlocked.Increment(ref refused);
                        await Task.Delay(50);   // a short back-off, so the run mixes answers and refusals
                    }
                    else lock (failures) failures.Add($"request {i}: {(int)response.StatusCode} {body}");
                }
                catch (Exception e)
                {
                    lock (failures) failures.Add($"request {i}: {e.GetType().Name} {e.Message}");
                }
            }
        })));
        log.WriteLine($"{answered} answered, {refused} refused with 503, {failures.Count} failed, in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Empty(failures);
        Assert.Equal(total, answered + refused);

        var metrics = await server.GetJsonAsync("metrics");
        log.WriteLine(metrics.ToString());
        Assert.Equal(answered, metrics.GetProperty("requests_completed").GetInt64());
        Assert.Equal(refused, metrics.GetProperty("requests_refused_busy").GetInt64());
        Assert.True(metrics.GetProperty("decode_tokens_per_second").GetDouble() > 0);
        var health = await server.GetJsonAsync("health");
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.False(health.GetProperty("busy").GetBoolean());
        var (status, _) = await server.PostAsync("v1/completions", """{"prompt":"after the load","max_tokens":3}""");
        Assert.Equal(200, status);
    }

    /// <summary>
    /// With a queue of 1 and the model held (the test takes the model's turn itself, as a long generation would):
    /// a request waits in the queue, the next is refused at once with 503 and Retry-After, and when the model is
    /// released the waiting request is answered.
    /// </summary>
    [Fact]
    public async Task FullQueueIsRefusedWith503AndTheWaitingRequestRunsWhenTheModelIsFree()
    {
        await using var server = await TestServer.StartAsync(o => o with { QueueLimit = 1 });
        var holder = server.Server.Session.TryEnter();
        Assert.NotNull(holder);
        await holder.WaitAsync(CancellationToken.None);
        Task<(int, JsonElement)> waiting;
        try
        {
            waiting = server.PostAsync("v1/completions", """{"prompt":"next in line","max_tokens":4}""");
            await WaitUntil(async () => (await server.GetJsonAsync("health")).GetProperty("waiting").GetInt32() == 1);
            using var third = await server.Http.PostAsync("v1/completions", TestServer.Json("""{"prompt":"one too many","max_tokens":4}"""));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
            Assert.NotNull(third.Headers.RetryAfter);
            TestServer.AssertErrorShape(JsonDocument.Parse(await third.Content.ReadAsStringAsync()).RootElement);
            await Task.Delay(100);
            Assert.False(waiting.IsCompleted, "the queued request must wait while the model is held");
        }
        finally
        {
            holder.Dispose();
        }
        var (status, body) = await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(200, status);
        Assert.Equal(4, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(1, (await server.GetJsonAsync("metrics")).GetProperty("requests_refused_busy").GetInt64());
    }

    /// <summary>
    /// A client that disconnects after the first event (the role) of a chat stream asking for 32000 tokens: its generation stops at
    /// the next token (the server counts it cancelled, with far fewer tokens than asked), and the next request gets
    /// the model and its answer. Were the generation not cancelled it would either run to 32000 tokens or block on
    /// the unread socket and hang the next request past its 20 s limit.
    /// </summary>
    [Fact]
    public async Task DisconnectingClientFreesTheModelForTheNextRequest()
    {
        await using var server = await TestServer.StartAsync(o => o with { Context = 32768 });
        const int longRun = 32000;
        var clock = Stopwatch.StartNew();
        using (var streaming = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) })
        using (var leave = new CancellationTokenSource())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = TestServer.Json($$"""{"messages":[{"role":"user","content":"go on"}],"max_tokens":{{longRun}},"stream":true,"temperature":0}"""),
            };
            using var response = await streaming.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leave.Token);
            if (response.StatusCode != HttpStatusCode.OK) Assert.Fail(await response.Content.ReadAsStringAsync());
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(leave.Token));
            string? first = await reader.ReadLineAsync(leave.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.StartsWith("data: ", first);
            leave.Cancel();
        }
        var (status, body) = await server.PostAsync("v1/completions", """{"prompt":"next please","max_tokens":4}""")
            .WaitAsync(TimeSpan.FromSeconds(20));
        log.WriteLine($"next request answered {clock.ElapsedMilliseconds} ms after the stream began");
        Assert.Equal(200, status);
        Assert.Equal(4, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var metrics = await server.GetJsonAsync("metrics");
        log.WriteLine(metrics.ToString());
        Assert.Equal(1, metrics.GetProperty("requests_cancelled").GetInt64());
        Assert.True(metrics.GetProperty("generated_tokens").GetInt64() - 4 < longRun / 2, "the disconnected generation ran on");
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "condition not reached in 20 s");
            await Task.Delay(20);
        }
    }
}
